"""Local tooling for the payment API: a throw-away PostgreSQL 15 with TLS and the production role split, and the
service processes around it (used by tests/service and ``make api``)."""
