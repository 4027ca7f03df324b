"""The payment API against a real PostgreSQL 15 (TLS, role split) and uvicorn processes on loopback."""
