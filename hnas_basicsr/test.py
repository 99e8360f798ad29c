"""Test with BasicSR's own pipeline and CLI: python hnas_basicsr/test.py -opt X.yml."""
import hnas_basicsr.archs  # noqa: F401
import hnas_basicsr.data  # noqa: F401
import hnas_basicsr.models  # noqa: F401
from basicsr.test import test_pipeline
from hnas_basicsr.runtime import patch_basicsr, project_root

if __name__ == '__main__':
    patch_basicsr()
    test_pipeline(project_root())
