"""Building blocks the components compose: secure defaults written once (buckets, log groups, roles, policies)."""
