"""HNAS for single-image super-resolution, as a BasicSR plugin.

Importing this package is light: it only makes ``import basicsr`` work with current torchvision
(see :mod:`hnas_basicsr.compat`). Register the plugin's classes in BasicSR's registries with
``import hnas_basicsr.archs`` (networks) and ``import hnas_basicsr.models`` (the search model).
"""
from hnas_basicsr.compat import install_torchvision_alias

__version__ = '0.1.0'

install_torchvision_alias()
