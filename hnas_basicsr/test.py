"""Test with BasicSR's own pipeline and CLI: ``python hnas_basicsr/test.py -opt X.yml``, or ``hnas-test -opt X.yml``."""
import hnas_basicsr  # noqa: F401  (registers the plugin; before basicsr)
from basicsr.test import test_pipeline
from hnas_basicsr.runtime import run


def main():
    """The ``hnas-test`` command (outputs under :func:`~hnas_basicsr.runtime.project_root`)."""
    run(test_pipeline)


if __name__ == '__main__':
    main()
