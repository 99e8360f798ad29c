"""Train with BasicSR's own pipeline and CLI: ``python hnas_basicsr/train.py -opt X.yml [--auto_resume]``, or
``hnas-train -opt X.yml``."""
import hnas_basicsr  # noqa: F401  (registers the plugin; before basicsr)
from basicsr.train import train_pipeline
from hnas_basicsr.cli import root_outside_checkout
from hnas_basicsr.runtime import run


def main():
    """The ``hnas-train`` command (root: :func:`~hnas_basicsr.cli.root_outside_checkout`)."""
    root_outside_checkout()
    run(train_pipeline)


if __name__ == '__main__':
    main()
