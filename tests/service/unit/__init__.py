"""Unit tests of the payment API: no database, no server."""
