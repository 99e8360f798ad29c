"""``python tools/prepare_data.py ...``: the ``hnas-prepare-data`` command (:mod:`hnas_basicsr.tools.prepare_data`)."""
import sys

from hnas_basicsr.tools.prepare_data import main

if __name__ == '__main__':
    sys.exit(main())
