"""Running the project on a workstation: ``local_api`` (``make api``, tests/service: a throw-away PostgreSQL 15 with
TLS and the payment API processes around it), ``web_e2e`` (``make web-e2e``: the checkout in headless Chromium
against the real API) and ``cdktf_app`` (what ``cdktf.json`` runs for ``npx cdktf synth``)."""
