"""Register the plugin's networks in BasicSR's ARCH_REGISTRY (import this package to register).

As in BasicSR, every ``*_arch.py`` file of this folder is imported.
"""
import importlib
from os import path as osp

import hnas_basicsr  # noqa: F401  (torchvision alias before basicsr is imported)
from basicsr.utils import scandir

_folder = osp.dirname(osp.abspath(__file__))
_names = sorted(osp.splitext(osp.basename(v))[0] for v in scandir(_folder) if v.endswith('_arch.py'))
_modules = [importlib.import_module(f'hnas_basicsr.archs.{name}') for name in _names]
