"""Unit tests for tools/sandbox/rehearsal/ (the boot rehearsal's stand-ins)."""
