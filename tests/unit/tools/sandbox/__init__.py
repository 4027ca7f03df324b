"""Unit tests for tools/sandbox/."""
