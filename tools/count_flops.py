"""``python tools/count_flops.py ...``: the ``hnas-count-flops`` command (:mod:`hnas_basicsr.tools.count_flops`)."""
import sys

from hnas_basicsr.tools.count_flops import main

if __name__ == '__main__':
    sys.exit(main())
