"""``python -m nnlab``: the ``nnlab`` command, as ``python -m nnlab.cli`` runs it."""

import sys

from .cli import main

sys.exit(main())
