"""Unit tests for stack/ (mirrors the source layout)."""
