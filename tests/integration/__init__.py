"""Integration tests against a deployed stack (the sandbox emulator)."""
