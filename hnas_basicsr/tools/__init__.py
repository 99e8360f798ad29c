"""The command-line tools: console scripts ``hnas-derive``, ``hnas-benchmark``, ``hnas-count-flops``,
``hnas-export-onnx`` and ``hnas-prepare-data``, also run as ``python tools/<name>.py``. Each module's ``main(argv)``
returns the exit status."""
