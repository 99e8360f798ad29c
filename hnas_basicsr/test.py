"""Test with BasicSR's own pipeline and CLI: python hnas_basicsr/test.py -opt X.yml."""
import hnas_basicsr.archs  # noqa: F401
import hnas_basicsr.data  # noqa: F401
import hnas_basicsr.models  # noqa: F401
from basicsr.test import test_pipeline
from hnas_basicsr.runtime import run

if __name__ == '__main__':
    run(test_pipeline)
