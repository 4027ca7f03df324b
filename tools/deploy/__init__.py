"""``make deploy``, ``make plan`` and ``make verify-deployment``: the path from a configuration to a running,
checked stack on an account (the sandbox runs the same path against the emulator).

- ``checks``: the result of one account or deployment check, and how a list of them is shown;
- ``outputs``: ``cfn-outputs/flat-outputs.json``, written per stack, never losing another stack's key.
"""
