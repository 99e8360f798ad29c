"""Compatibility of basicsr 1.4.2 with current torchvision, without touching site-packages.

basicsr imports ``torchvision.transforms.functional_tensor``, removed in torchvision 0.17, for
``rgb_to_grayscale`` only; ``torchvision.transforms.functional`` has the same function. A meta-path
finder serves the old name from the new module the first time it is imported, so nothing heavy is
imported until basicsr asks for it.
"""
import importlib
import importlib.abc
import importlib.util
import sys

_OLD = 'torchvision.transforms.functional_tensor'
_NEW = 'torchvision.transforms.functional'


class _AliasLoader(importlib.abc.Loader):
    """Fills the old module with the public names of the new one."""

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        new = importlib.import_module(_NEW)
        module.__dict__.update({k: v for k, v in vars(new).items() if not k.startswith('__')})


class _AliasFinder(importlib.abc.MetaPathFinder):

    def find_spec(self, fullname, path=None, target=None):
        return importlib.util.spec_from_loader(fullname, _AliasLoader()) if fullname == _OLD else None


def install_torchvision_alias():
    """Serve the removed torchvision module name from its successor (idempotent).

    The finder goes last on ``sys.meta_path``, so a torchvision that still ships the old module
    keeps its own.
    """
    if not any(isinstance(finder, _AliasFinder) for finder in sys.meta_path):
        sys.meta_path.append(_AliasFinder())
