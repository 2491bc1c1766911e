"""`python -m benchmarks [--quick | --smoke] [--json PATH] ...`: see benchmarks/cli.py."""
import sys

from .cli import main

sys.exit(main(sys.argv[1:]))
