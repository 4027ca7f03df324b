"""The registry of the emulator's fidelity patches: ``@fidelity_patch("why")`` on a function that patches moto.

Each patch says which moto behaviour it corrects and what AWS does instead; ``tools/sandbox/moto_server.py`` applies
every registered patch once, before the first request, and prints the list in the moto log. The patches live in
``moto_server.py`` and, one file per concern, in the modules it names in ``PATCH_MODULES``
(``moto_autoscaling.py``: the instance lifecycle of Auto Scaling groups; ``moto_s3.py``: bucket policies, Object
Lock and deletes).
"""

from __future__ import annotations

from collections.abc import Callable

PatchFunction = Callable[[], None]
PATCHES: list[tuple[str, str, PatchFunction]] = []
APPLIED: set[str] = set()


def fidelity_patch(why: str) -> Callable[[PatchFunction], PatchFunction]:
    """Register ``function`` as a patch; ``why`` is the gap it closes (printed in the moto log)."""

    def register(function: PatchFunction) -> PatchFunction:
        PATCHES.append((function.__name__, why, function))
        return function

    return register
