"""`python -m gsasrec` runs the CLI."""

import sys

from gsasrec.cli import main

sys.exit(main())
