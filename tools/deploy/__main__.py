"""``python -m tools.deploy {deploy|plan|rollback} <environment>``: ``make deploy``, ``make plan`` (``runner.py``) and
``make rollback`` (``rollback.py``)."""

import sys

if sys.argv[1:2] == ["rollback"]:
    from tools.deploy.rollback import main as rollback

    sys.exit(rollback(sys.argv[2:]))

from tools.deploy.runner import main  # pylint: disable=wrong-import-position  # only for deploy and plan

sys.exit(main(sys.argv[1:]))
