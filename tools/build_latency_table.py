"""``python tools/build_latency_table.py ...``: the ``hnas-build-latency-table`` command
(:mod:`hnas_basicsr.tools.build_latency_table`)."""
import sys

from hnas_basicsr.tools.build_latency_table import main

if __name__ == '__main__':
    sys.exit(main())
