"""``python -m openshape_ood``: the ``openshape-ood`` command line."""

import sys

from .cli import main

sys.exit(main())
