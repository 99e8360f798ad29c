"""Train with BasicSR's own pipeline and CLI: python hnas_basicsr/train.py -opt X.yml [--auto_resume]."""
import hnas_basicsr.archs  # noqa: F401  (registers HNASNet, HNASSuperNet, HNASController)
import hnas_basicsr.data  # noqa: F401
import hnas_basicsr.models  # noqa: F401  (registers HNASSearchModel)
from basicsr.train import train_pipeline
from hnas_basicsr.runtime import run

if __name__ == '__main__':
    run(train_pipeline)
