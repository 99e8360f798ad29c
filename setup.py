"""Install hnas_basicsr as a BasicSR plugin (an ordinary Python package) with its command-line tools."""
from setuptools import find_packages, setup

setup(
    name='hnas_basicsr',
    version='0.1.0',
    description='Hierarchical Neural Architecture Search (HNAS) for single-image super-resolution, as a BasicSR plugin',
    packages=find_packages(include=['hnas_basicsr', 'hnas_basicsr.*']),
    package_data={'hnas_basicsr.nas': ['published.yml']},
    python_requires='>=3.9',
    # what the package and its tools import (or load at run time: torchvision, scipy, lmdb and tensorboard through
    # basicsr, onnxscript through torch.onnx), pinned as requirements.txt
    install_requires=[
        'basicsr==1.4.2',
        'torch==2.14.1',
        'torchvision==0.29.1',
        'onnx==1.23.2',
        'onnxruntime==1.32.0',
        'onnxscript==0.7.2',
        'numpy>=2,<3',
        'opencv-python>=4.8',
        'scipy>=1.10,<2',
        'scikit-image>=0.22',
        'lmdb>=1.4',
        'pyyaml>=6',
        'tensorboard>=2.15',
        'tqdm>=4.60',
        'matplotlib>=3.7',
    ],
    entry_points={
        'console_scripts': [
            'hnas-train = hnas_basicsr.train:main',
            'hnas-test = hnas_basicsr.test:main',
            'hnas-derive = hnas_basicsr.tools.derive:main',
            'hnas-benchmark = hnas_basicsr.tools.benchmark:main',
            'hnas-count-flops = hnas_basicsr.tools.count_flops:main',
            'hnas-export-onnx = hnas_basicsr.tools.export_onnx:main',
            'hnas-build-latency-table = hnas_basicsr.tools.build_latency_table:main',
            'hnas-prepare-data = hnas_basicsr.tools.prepare_data:main',
        ],
    },
)
