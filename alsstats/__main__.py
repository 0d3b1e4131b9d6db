"""``python -m alsstats`` runs the ``alsstats`` command."""

import sys

from alsstats.cli import main

sys.exit(main())
