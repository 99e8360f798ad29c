"""Export a BasicSR network to ONNX with dynamic batch, height and width, checked in onnxruntime against PyTorch.

Usage (``hnas-export-onnx`` is the same command)::

    python tools/export_onnx.py -opt options/train/HNAS/train_HNAS_A_x2.yml [--network network_g] \\
        [--weights net_g.pth] [--out HNAS_A_x2.onnx] [--opset 18]

``-opt`` takes a BasicSR train or test option file of any registered arch (HNASNet, basicsr's EDSR, RCAN, ...).
The weights are ``--weights``, else the options' ``path.pretrain_network_g`` (``param_key_g``, default
``params``); without either the network's initialisation is exported, with a warning. The export runs on the CPU
(torch.export, the default exporter of torch.onnx); the file is ``<out>`` (default
``results/<name of the options>.onnx``), one input ``lq`` (N x C x H x W, values in 0..1) and one output
``output`` (N x C x sH x sW). It is then run in onnxruntime on a random input of another size than the traced
one, and the maximum absolute difference to PyTorch is printed with the file size. Errors print one line on
stderr and exit with status 2.
"""
import argparse
import contextlib
import io
import logging
import os
import re
import sys
import time
import warnings
from os import path as osp

import hnas_basicsr  # noqa: F401  (registers the plugin; before basicsr)
import numpy as np
import onnx
import onnxruntime
import torch

from hnas_basicsr.cli import ToolError, load_yaml, one_line, run_tool
from hnas_basicsr.networks import build, load_weights
from hnas_basicsr.runtime import project_root, resolve_paths

TRACE_SHAPE = (2, 24, 20)  # batch, height, width traced (batch 2: torch.export specialises a size-1 dimension)
CHECK_SHAPE = (1, 33, 17)  # batch, height, width of the onnxruntime check: odd sizes, none traced
TOLERANCE = 1e-4  # largest absolute difference to PyTorch accepted, relative to the output's magnitude (at least 1)


def network_from_options(opt_path, key, weights=None):
    """Build network ``key`` of a BasicSR option file and load its weights.

    The weights are ``weights``, else ``path.pretrain_<key>`` of the options (with ``param_key_<x>`` and
    ``strict_load_<x>``, as basicsr reads them), else none: the network keeps its initialisation.

    Returns:
        tuple: (network in eval mode, name of the options, input channels, weights file or None).
    """
    opt = load_yaml(opt_path)
    if not isinstance(opt, dict):
        raise ToolError(f'{opt_path}: expected a mapping of options, got {type(opt).__name__}')
    if not isinstance(opt.get(key), dict):
        found = sorted(k for k in opt if str(k).startswith('network_'))
        raise ToolError(f'{opt_path}: no {key} mapping in the options (networks: {", ".join(found) or "none"})')
    resolve_paths(opt, project_root())
    net = build(opt[key], f'{opt_path}: {key}')
    suffix = key.split('_', 1)[-1]
    paths = opt.get('path') if isinstance(opt.get('path'), dict) else {}
    weights = weights or paths.get(f'pretrain_{key}')
    if weights:
        load_weights(net, weights, paths.get(f'param_key_{suffix}', 'params'), paths.get(f'strict_load_{suffix}', True))
    name = str(opt.get('name') or osp.splitext(osp.basename(opt_path))[0])
    return net.eval(), name, opt[key].get('num_in_ch', 3), weights


def _summary(exc):
    """The line of an exporter error that says what failed (its ``## Exception summary``), else its first line."""
    lines = [re.sub(r'\x1b\[[0-9;]*m', '', line).strip() for line in str(exc).splitlines()]
    lines = [line for line in lines if line]
    if '## Exception summary' in lines[:-1]:
        return lines[lines.index('## Exception summary') + 1]
    return one_line(exc)


@contextlib.contextmanager
def _quiet():
    """Silence the exporter's progress lines, warnings and logged tracebacks (its errors are raised)."""
    disabled = logging.root.manager.disable
    logging.disable(logging.CRITICAL)
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter('ignore')
            yield
    finally:
        logging.disable(disabled)


def export(net, out, in_ch=3, opset=None):
    """Export ``net`` (on the CPU, in eval mode) to the ONNX file ``out`` with dynamic batch, height and width.

    Args:
        net (nn.Module): An image-to-image network.
        out (str): The .onnx file written (weights inside it).
        in_ch (int): Input channels.
        opset (int | None): ONNX opset. Default: torch.onnx's.

    Raises:
        ToolError: If torch.onnx cannot export the network with dynamic sizes.
    """
    net = net.cpu().eval()
    dims = {0: torch.export.Dim('batch'), 2: torch.export.Dim('height'), 3: torch.export.Dim('width')}
    x = torch.rand(TRACE_SHAPE[0], in_ch, *TRACE_SHAPE[1:])
    try:
        with _quiet(), torch.no_grad():
            torch.onnx.export(net, (x, ), out, input_names=['lq'], output_names=['output'], opset_version=opset,
                              dynamic_shapes=(dims, ), external_data=False, dynamo=True)
    except Exception as exc:  # any exporter failure of any registered arch
        raise ToolError(f'{type(net).__name__}: ONNX cannot export it with dynamic batch, height and width: '
                        f'{_summary(exc)[:300]}') from None


def max_abs_diff(net, path, shape, in_ch=3, seed=0):
    """Max absolute difference between ``net`` and the ONNX file ``path`` in onnxruntime on one random 0..1 input.

    Args:
        shape (tuple[int]): Batch, height, width of the input.

    Returns:
        tuple: (difference, magnitude: the largest absolute value of PyTorch's output).
    """
    x = torch.rand(shape[0], in_ch, *shape[1:], generator=torch.Generator().manual_seed(seed))
    label = f'{type(net).__name__} on a {shape[0]}x{in_ch}x{shape[1]}x{shape[2]} input'
    try:
        with torch.no_grad():
            expected = net(x).numpy()
    except Exception as exc:  # any forward pass of any registered arch
        raise ToolError(f'{label}: PyTorch cannot run it, so no export takes any height and width: '
                        f'{one_line(exc)[:200]}') from None
    try:
        session = onnxruntime.InferenceSession(path, providers=['CPUExecutionProvider'])
        got = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
    except Exception as exc:  # onnxruntime's errors are of its own types
        raise ToolError(f'{label}: onnxruntime cannot run {path}: {one_line(exc)[:200]}') from None
    if got.shape != expected.shape:
        raise ToolError(f'{label}: onnxruntime gives {got.shape}, PyTorch {expected.shape}')
    return float(np.abs(got - expected).max()), float(np.abs(expected).max())


def describe(path):
    """The opset of a checked ONNX file and its signature, ``lq [batch, 3, height, width] -> output [...]``.

    Raises:
        ToolError: If the file is not a valid ONNX model.
    """
    try:
        model = onnx.load(path)
        onnx.checker.check_model(model)
    except Exception as exc:  # onnx's errors are of its own types
        raise ToolError(f'{path}: not a valid ONNX model: {one_line(exc)[:200]}') from None

    def shape(value):
        return f'{value.name} [{", ".join(d.dim_param or str(d.dim_value) for d in value.type.tensor_type.shape.dim)}]'

    opset = next(o.version for o in model.opset_import if o.domain in ('', 'ai.onnx'))
    return opset, f'{shape(model.graph.input[0])} -> {shape(model.graph.output[0])}'


def check(net, path, in_ch, opset):
    """Check an exported file: a valid model, of ``opset`` if given, that reproduces ``net`` in onnxruntime.

    Returns:
        tuple: (opset, signature, max abs difference on a random :data:`CHECK_SHAPE` input).
    """
    found, signature = describe(path)
    if opset is not None and found != opset:
        raise ToolError(f'--opset {opset}: torch.onnx {torch.__version__} cannot convert to it (it gives opset '
                        f'{found})')
    diff, magnitude = max_abs_diff(net, path, CHECK_SHAPE, in_ch)
    if not diff <= TOLERANCE * max(1., magnitude):
        raise ToolError(f'{type(net).__name__}: the ONNX export differs from PyTorch by {diff:.3g} on a random input '
                        f'(more than {TOLERANCE:g})')
    return found, signature, diff


def export_onnx(args):
    net, name, in_ch, weights = network_from_options(args.opt, args.network, args.weights)
    out = args.out or osp.join(project_root(), 'results', f'{name}.onnx')
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    tmp = f'{out}.tmp'  # renamed once checked: a failed export leaves any previous file as it was
    try:
        start = time.perf_counter()
        export(net, tmp, in_ch, args.opset)
        seconds = time.perf_counter() - start
        opset, signature, diff = check(net, tmp, in_ch, args.opset)
        os.replace(tmp, out)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)
    print(f'export_onnx.py: wrote {out} ({os.path.getsize(out) / 1e6:.2f} MB, exported in {seconds:.1f} s)')
    print(f'  opset {opset}: {signature}')
    print(f'  onnxruntime vs PyTorch on a random {CHECK_SHAPE[0]}x{in_ch}x{CHECK_SHAPE[1]}x{CHECK_SHAPE[2]} input '
          f'in 0..1: max abs difference {diff:.2e}')
    if not weights:
        print(f'export_onnx.py: warning: exported the initialisation: no --weights and no path.pretrain_{args.network} '
              f'in {args.opt}', file=sys.stderr)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('-opt', required=True, help='a BasicSR train or test option file')
    parser.add_argument('--network', default='network_g', help='the options key of the network (default: network_g)')
    parser.add_argument('--weights', help='a checkpoint (default: path.pretrain_network_g of the options)')
    parser.add_argument('--out', help='the .onnx file (default: results/<name of the options>.onnx)')
    parser.add_argument('--opset', type=int, help='ONNX opset (default: torch.onnx\'s)')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Export one network; return the exit status (0, or 2 on an error)."""
    return run_tool('export_onnx.py', export_onnx, parse_args(argv))


if __name__ == '__main__':
    sys.exit(main())
