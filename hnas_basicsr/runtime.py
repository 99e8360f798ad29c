"""The entry points' run: basicsr's train or test pipeline with the plugin's patches, from any directory.

``experiments/``, ``results/`` and ``tb_logger/`` go to the root (:func:`project_root`); relative paths of the
options that do not exist from the current directory are looked up there (:func:`resolve_paths`). What changes
in basicsr while a pipeline runs is in :mod:`hnas_basicsr.patches`; the checked classes are ``HNASSRModel``
and ``HNASPairedImageDataset``.
"""
import os
import sys
from os import path as osp

import hnas_basicsr  # noqa: F401  (torchvision alias before basicsr is imported)
from hnas_basicsr.allocator import reuse_freed_memory
from hnas_basicsr.cli import ToolError

_PATH_KEYS = ('dataroot_gt', 'dataroot_lq', 'meta_info_file')


def project_root() -> str:
    """Where ``experiments/``, ``results/`` and ``tb_logger/`` go: $HNAS_ROOT, else the source checkout holding the
    package (``python hnas_basicsr/train.py``, an editable install), else the current directory (a regular install,
    whose package sits in site-packages)."""
    checkout = osp.dirname(osp.dirname(osp.abspath(__file__)))
    default = checkout if osp.isfile(osp.join(checkout, 'setup.py')) else os.getcwd()
    return osp.abspath(os.environ.get('HNAS_ROOT') or default)


def _resolve(value, root):
    if isinstance(value, str) and not osp.isabs(value) and not osp.exists(value):
        candidate = osp.join(root, value)
        if osp.exists(candidate):
            return candidate
    return value


def resolve_paths(opt, root):
    """Relative dataset, pretrained-network, resume-state and latency-table paths missing from the current directory:
    under ``root``.

    A path found in neither place is left as the options give it (so errors name that path).
    """
    for dataset in (opt.get('datasets') or {}).values():
        for key in _PATH_KEYS:
            if key in dataset:
                dataset[key] = _resolve(dataset[key], root)
    paths = opt.get('path') or {}
    for key in paths:
        if key.startswith('pretrain_network') or key == 'resume_state':
            paths[key] = _resolve(paths[key], root)
    search = opt.get('search')
    if isinstance(search, dict) and isinstance(search.get('latency_table'), str):
        search['latency_table'] = _resolve(search['latency_table'], root)
    return opt


def run(pipeline):
    """Run basicsr's train or test pipeline patched; user errors end in one line, exit status 2."""
    from hnas_basicsr import patches
    reuse_freed_memory()
    try:
        with patches.applied():
            pipeline(project_root())
    except ToolError as exc:
        message = str(exc).strip()
        if message.startswith('Caught '):  # raised in a DataLoader worker: the original message is the last line
            message = message.splitlines()[-1].split('ToolError: ', 1)[-1]
        print(f'hnas_basicsr: error: {message}', file=sys.stderr, flush=True)
        sys.exit(2)
