"""The stack's components: one construct per concern, wired together only in ``lib/tap_stack.py``."""
