"""Tools around the stack and the service, one package per purpose:

- ``deploy``: ``make deploy`` / ``plan`` / ``verify-deployment``, the account preflight, offline Terraform, the cost;
- ``release``: the payment API artifact, the frontend upload, the address baselines, every region synthesized, the
  locks' hashes (``lock_hashes``);
- ``sandbox``: ``make sandbox``, the whole stack on a local moto server;
- ``docs``: the generated documents (``make docs``, ``make compliance``, ``make help``);
- ``lint``: our own static checks (function length, checkov scan, the dependency audit of ``make audit``);
- ``bench``: the measurements behind the docs' numbers;
- ``dev``: the local API, the browser tests, ``npx cdktf synth``'s app, ``make test``'s runner, the facts' refresher;
- ``prereqs.py`` and ``warm_jsii_cache.py``: run by ``make setup`` before the virtual environment is complete.

The AWS facts they read are in the top-level ``facts`` package; ``iam_simulate/`` holds the Node IAM evaluator.
"""
