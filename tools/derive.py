"""``python tools/derive.py ...``: the ``hnas-derive`` command (:mod:`hnas_basicsr.tools.derive`)."""
import sys

from hnas_basicsr.tools.derive import main

if __name__ == '__main__':
    sys.exit(main())
