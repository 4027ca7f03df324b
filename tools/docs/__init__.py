"""Generated documents: ``make docs`` / ``make docs-check`` (``generate``: the generated regions of the README and
the guides in docs/, the architecture picture of ``diagram``, the configuration tables of ``config_docs``, the
target list of ``make_help``, docs/openapi.json and the checkout's API types of ``checkout_types``) and
``make compliance`` / ``make compliance-check`` (``compliance_report``: docs/compliance.md)."""
