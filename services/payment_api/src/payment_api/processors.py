"""The processors ``PAYMENT_PROCESSOR`` may name, and ``make_processor``: the simulator (development and tests) and
Stripe (``payment_api.stripe_processor``). A module of its own so that a processor's module imports the interface
(``payment_api.processor``) without the interface importing it back."""

from __future__ import annotations

from collections.abc import Callable

from tap_contract.runtime import PROCESSOR

from payment_api.config import Settings
from payment_api.processor import Processor, SimulatedProcessor
from payment_api.stripe_processor import StripeProcessor


def _stripe(settings: Settings) -> Processor:
    return StripeProcessor(settings.stripe_settings())


PROCESSORS: dict[str, Callable[[Settings], Processor]] = {"simulated": SimulatedProcessor, "stripe": _stripe}


def make_processor(settings: Settings) -> Processor:
    """The processor ``PAYMENT_PROCESSOR`` names; a ``ValueError`` naming the known ones for any other name, and the
    ``ConfigError`` of a processor whose settings are missing (Stripe without its credential)."""
    name = settings.processor
    try:
        constructor = PROCESSORS[name]
    except KeyError:
        raise ValueError(f"unknown {PROCESSOR.env} {name!r} (known: {', '.join(PROCESSORS)})") from None
    return constructor(settings)
