"""Unit tests for components/ (mirrors the source layout)."""
