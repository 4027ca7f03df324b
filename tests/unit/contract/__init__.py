"""Unit tests of the stack-service contract (services/contract, ``tap_contract``)."""
