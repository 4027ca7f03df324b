"""What a release ships and must keep: ``build_artifact`` (``make artifact``: the payment API archive and its pointer
in dist/, read by the stack through ``lib/artifact.py``), ``deploy_frontend`` (``make deploy-frontend``: the checkout's
build to its bucket, CloudFront invalidated), ``addresses`` (``make upgrade-check`` / ``make release-baseline``: the
stateful Terraform addresses of each release in release/) and ``regions`` (``make regions``: the stack synthesized
and preflighted in every supported region, with the configurations of ``addresses``)."""
