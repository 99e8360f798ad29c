"""``python tools/benchmark.py ...``: the ``hnas-benchmark`` command (:mod:`hnas_basicsr.tools.benchmark`)."""
import sys

from hnas_basicsr.tools.benchmark import main

if __name__ == '__main__':
    sys.exit(main())
