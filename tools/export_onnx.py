"""``python tools/export_onnx.py ...``: the ``hnas-export-onnx`` command (:mod:`hnas_basicsr.tools.export_onnx`)."""
import sys

from hnas_basicsr.tools.export_onnx import main

if __name__ == '__main__':
    sys.exit(main())
