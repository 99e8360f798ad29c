"""HNAS for single-image super-resolution, as a BasicSR plugin.

Importing this package registers the plugin in BasicSR's registries, as BasicSR plugins do: the networks
(``HNASNet``, ``HNASSuperNet``, ``HNASController``), the dataset (``HNASSplitDataset``) and the model
(``HNASSearchModel``). First it makes ``import basicsr`` work with current torchvision
(:mod:`hnas_basicsr.compat`).
"""
from hnas_basicsr.compat import install_torchvision_alias

__version__ = '0.1.0'

install_torchvision_alias()

from hnas_basicsr import archs, data, models  # noqa: E402,F401  (registration by import)
