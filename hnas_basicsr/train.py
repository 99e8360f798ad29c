"""Train with BasicSR's own pipeline and CLI: ``python hnas_basicsr/train.py -opt X.yml [--auto_resume]``, or
``hnas-train -opt X.yml``."""
import hnas_basicsr  # noqa: F401  (registers the plugin; before basicsr)
from basicsr.train import train_pipeline
from hnas_basicsr.runtime import run


def main():
    """The ``hnas-train`` command (outputs under :func:`~hnas_basicsr.runtime.project_root`)."""
    run(train_pipeline)


if __name__ == '__main__':
    main()
