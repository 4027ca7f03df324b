"""Local AWS sandbox: apply the whole stack on a moto server with the real Terraform and provider.

``python -m tools.sandbox`` runs the full cycle (emulator, synth, init, plan, apply, outputs, integration
tests, drift check, destroy, leftover check); the modules here are also imported by the tests.
"""

# The suffix of the sandbox's stack when ENVIRONMENT_SUFFIX is not given: TapStacksandbox.
SANDBOX_SUFFIX = "sandbox"
