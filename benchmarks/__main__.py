"""`python -m benchmarks [--quick | --smoke] [--json PATH] ...`: see autograd_mini/bench.py."""
import sys

from autograd_mini.bench import main

sys.exit(main(sys.argv[1:]))
