"""``python -m alsstats`` runs the ``alsstats`` command."""

import sys

from alsstats.cli import main

if __name__ == "__main__":
    sys.exit(main())
