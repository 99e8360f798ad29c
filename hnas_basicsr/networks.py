"""Registered networks from options; checkpoints loaded safely (one-line errors) and written atomically."""
import copy
import os
import pickle

import torch
from basicsr.archs import build_network
from basicsr.utils.registry import ARCH_REGISTRY

from hnas_basicsr.cli import ToolError, one_line


def build(net_opt, where):
    """``basicsr.archs.build_network(net_opt)``; ``where`` names the network in error messages."""
    if not isinstance(net_opt, dict) or not isinstance(net_opt.get('type'), str):
        raise ToolError(f'{where}: expected a mapping with a type name, got {net_opt!r}')
    if net_opt['type'] not in ARCH_REGISTRY:
        raise ToolError(f'{where}: unknown arch type {net_opt["type"]!r}: neither basicsr nor hnas_basicsr.archs '
                        'registers it in ARCH_REGISTRY')
    try:
        return build_network(copy.deepcopy(net_opt))
    except Exception as exc:  # any constructor of any registered arch
        raise ToolError(f'{where}: cannot build {net_opt["type"]}: {one_line(exc)}') from None


def load_checkpoint(path):
    """``torch.load`` on the CPU with ``weights_only=True``: a file that would run code is refused."""
    try:
        return torch.load(path, map_location='cpu', weights_only=True)
    except FileNotFoundError:
        raise ToolError(f'{path}: checkpoint not found') from None
    except pickle.UnpicklingError as exc:
        found = [line.strip() for line in str(exc).splitlines() if 'global' in line.lower()]
        if found:  # a class or function to import and call (random bytes give an unsupported operand instead)
            raise ToolError(f'{path}: refused: the file holds Python objects, not only tensors, and loading it '
                            f'could run code ({found[0][:120]})') from None
        detail = next((line.strip() for line in str(exc).splitlines() if 'Unsupported' in line), one_line(exc))
        raise ToolError(f'{path}: not a PyTorch checkpoint ({detail[:120]})') from None
    except Exception as exc:  # truncated, empty or foreign files
        detail = 'an empty file' if os.path.isfile(path) and not os.path.getsize(path) else one_line(exc)[:160]
        raise ToolError(f'{path}: not a readable checkpoint ({detail})') from None


def load_weights(net, path, param_key='params', strict=True):
    """Load a BasicSR checkpoint (``{param_key: state_dict}`` or a bare state dict) into ``net``.

    Raises:
        ToolError: If the file cannot be read safely or does not fit the network.
    """
    state = load_checkpoint(path)
    if isinstance(state, dict) and param_key in state:
        state = state[param_key]
    elif isinstance(state, dict) and 'params' in state:
        state = state['params']
    if not isinstance(state, dict):
        raise ToolError(f'{path}: not a state dict of {type(net).__name__}')
    state = {k[7:] if k.startswith('module.') else k: v for k, v in state.items()}
    own = net.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [k for k in own if k in state and getattr(state[k], 'shape', None) != own[k].shape]
    if shapes or (strict and (missing or unexpected)):
        problems = [f'{len(v)} {what} (e.g. {v[0]})' for what, v in
                    (('missing keys', missing), ('unexpected keys', unexpected), ('shape mismatches', shapes)) if v]
        raise ToolError(f'{path}: does not fit this {type(net).__name__}: {", ".join(problems)}; '
                        'is it a checkpoint of another architecture or width?')
    net.load_state_dict(state, strict=strict)
    return net


def save_atomic(obj, path):
    """``torch.save`` to ``path.tmp``, then rename: a kill at any moment leaves either the old file or the new one.

    Raises:
        ToolError: If the file cannot be written (disk full, no permission); ``path`` is left as it was.
    """
    tmp = f'{path}.tmp'
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    except OSError as exc:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise ToolError(f'{path}: cannot write the checkpoint ({exc.strerror or one_line(exc)}); '
                        'the previous file is kept') from None
