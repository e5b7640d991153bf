"""`python -m pilothouse`: the same as the `pilothouse` command."""

import sys

from pilothouse.console.cli import main

if __name__ == "__main__":
    sys.exit(main())
