"""Static checks of our own: ``check`` (``make check``: the fast lane over what changed), ``function_length``
(``make lint``: at most 60 lines a function in the stack, the preflight and the service) and ``checkov_scan``
(``make scan``: checkov over the synthesized stack, each suppression applied to exactly one resource with its
reason)."""
