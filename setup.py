"""Install hnas_basicsr as a BasicSR plugin (an ordinary Python package)."""
from setuptools import find_packages, setup

setup(
    name='hnas_basicsr',
    version='0.1.0',
    description='Hierarchical Neural Architecture Search (HNAS) for single-image super-resolution, as a BasicSR plugin',
    packages=find_packages(include=['hnas_basicsr', 'hnas_basicsr.*']),
    package_data={'hnas_basicsr.nas': ['published.yml']},
    python_requires='>=3.9',
    install_requires=['basicsr==1.4.2', 'torch', 'numpy', 'opencv-python', 'lmdb', 'pyyaml', 'tensorboard'],
)
