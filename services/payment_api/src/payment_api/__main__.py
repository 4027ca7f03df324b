"""``python -m payment_api``."""

import sys

from payment_api.cli import main

sys.exit(main())
