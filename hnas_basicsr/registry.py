"""Register a folder's classes in BasicSR's registries by importing its files, as BasicSR does."""
import importlib
import os
from os import path as osp


def import_modules(package: str, suffix: str):
    """Import every ``*<suffix>`` file (e.g. '_arch.py') of the folder of ``package``."""
    folder = osp.dirname(importlib.import_module(package).__file__)
    names = sorted(f[:-3] for f in os.listdir(folder) if f.endswith(suffix))
    return [importlib.import_module(f'{package}.{name}') for name in names]
