"""Unit tests for blocks/ (mirrors the source layout)."""
