"""``python -m tools.deploy {deploy|plan} <environment>``: ``make deploy`` and ``make plan`` (``runner.py``)."""

import sys

from tools.deploy.runner import main

sys.exit(main(sys.argv[1:]))
