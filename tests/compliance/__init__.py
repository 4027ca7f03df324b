"""The compliance report's own checks (they need checkov, so `make compliance-check` runs them)."""
