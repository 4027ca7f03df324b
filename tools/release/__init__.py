"""What a release ships and keeps: ``build_artifact`` (``make artifact``: the payment API archive and its pointer in
dist/, read by the stack through ``lib/artifact.py``), ``deploy_frontend`` (``make deploy-frontend``: the checkout's
build to its bucket, CloudFront invalidated) and ``addresses`` (``make upgrade-check`` / ``make release-baseline``:
the stateful Terraform addresses of each release in release/)."""
