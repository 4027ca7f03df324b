"""The contract between the stack (``lib/``, ``tools/``) and the payment API (``payment_api``): one source for what
crosses between them.

- ``tap_contract.runtime``: the runtime parameter's settings (key, type, checks, the ``PAYMENT_*`` variable each
  becomes on an instance); the stack writes the parameter with it, the instance's boot turns the parameter into the
  service's environment with it, and the service reads that environment back through it.

It imports the standard library only (import-linter contract ``contract-depends-on-nothing``): the stack imports it
from the virtual environment, the instances install it from the artifact's wheelhouse (``tap-contract``, a
dependency of the ``payment-api`` wheel).
"""
