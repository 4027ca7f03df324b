"""Running the project on a workstation: ``local_api`` (``make api``, tests/service: a throw-away PostgreSQL 15 with
TLS and the payment API processes around it), ``local_stripe`` (the local Stripe emulator: localstripe, patched, on
127.0.0.1), ``web_e2e`` (``make web-e2e``: the checkout in headless Chromium
against the real API), ``cdktf_app`` (what ``cdktf.json`` runs for ``npx cdktf synth``), ``run_steps`` (``make test``:
every step, then one roll-up table) and ``refresh_aws_data`` (regenerates the generated files of ``facts/``)."""
