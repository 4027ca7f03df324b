"""The jsii runtime patch that makes synth fast; no stack code lives here."""
