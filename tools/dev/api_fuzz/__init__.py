"""``make api-fuzz``: schemathesis against the payment API's served OpenAPI document (run.py), with the hooks it
loads (hooks.py) and the accepted contract differences (baseline.json)."""
