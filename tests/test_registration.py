"""``import hnas_basicsr`` registers the whole plugin in BasicSR, as BasicSR plugins do."""
import subprocess
import sys

CODE = '''
import sys
assert 'basicsr' not in sys.modules
import hnas_basicsr
from basicsr.utils.registry import ARCH_REGISTRY, DATASET_REGISTRY, MODEL_REGISTRY
for name in ('HNASNet', 'HNASSuperNet', 'HNASController', 'GlobalSkipWrapper'):
    ARCH_REGISTRY.get(name)
MODEL_REGISTRY.get('HNASSearchModel')
DATASET_REGISTRY.get('HNASSplitDataset')
print('registered')
'''


def test_importing_the_package_registers_every_arch_dataset_and_model():
    """In a fresh process that has not imported basicsr (the package installs the torchvision alias first)."""
    result = subprocess.run([sys.executable, '-c', CODE], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == 'registered'
