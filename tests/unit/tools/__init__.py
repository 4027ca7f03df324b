"""Unit tests for tools/ (mirrors the source layout)."""
