"""Measurements behind the README's numbers: ``synth`` (``make bench``: synth time with and without the fast binding
loader, peak memory, the unit suite -> docs/measurements.json) and ``api`` (``make bench-api``: the payment API under
wrk on loopback, with ``api_results`` parsing and tabling what it measured -> docs/api_measurements.json)."""
