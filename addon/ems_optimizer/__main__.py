"""`python -m ems_optimizer` runs the CLI."""

import sys

from .cli import main

sys.exit(main())
