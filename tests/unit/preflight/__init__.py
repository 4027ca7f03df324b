"""Unit tests for preflight/ (mirrors the source layout)."""
