"""``python -m tools.sandbox``: the full sandbox cycle (see tools/sandbox/runner.py)."""

import sys

from tools.sandbox.runner import main

sys.exit(main(sys.argv[1:]))
