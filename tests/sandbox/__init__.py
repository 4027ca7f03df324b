"""Tests of the sandbox tooling: emulator fidelity patches and S3 state locking."""
