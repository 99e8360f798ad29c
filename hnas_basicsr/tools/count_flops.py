"""Parameters and multiply-adds of any BasicSR network, under one protocol printed beside the figure.

Usage (``hnas-count-flops`` is the same command)::

    python tools/count_flops.py -opt options/train/EDSR/train_EDSR_Bx2.yml [--network network_g] [--lr-size 480 480]
    python tools/count_flops.py --genotype HNAS_A [--scale 2] [--num-feat 64] [--num-layers 12]
    python tools/count_flops.py --genotype my_genotype.yml --by-module 2

``-opt`` takes any option file whose network is registered in BasicSR (basicsr's own EDSR, RCAN, ... and
this plugin's); ``--genotype`` takes a published genotype name or a YAML file holding one genotype mapping
(see :mod:`hnas_basicsr.nas.genotype`) and builds an HNASNet from it. Errors print one line on stderr and
exit with status 2.
"""
import argparse
import copy
import os
import sys

import hnas_basicsr  # noqa: F401  (registers the plugin; before basicsr)
import torch
from torch.utils.flop_counter import FlopCounterMode

from hnas_basicsr.cli import ToolError, load_yaml, one_line
from hnas_basicsr.nas.cost import DEFAULT_LR_SIZE, count_cost, protocol
from hnas_basicsr.nas.genotype import Genotype, GenotypeError, published_genotypes
from hnas_basicsr.networks import build

GENOTYPE_DEFAULTS = {'num_feat': 64, 'num_layers': 12, 'scale': 2}


def network_from_options(path, key):
    """Build network ``key`` of a BasicSR option file.

    Returns:
        tuple: (network, label, input channels).
    """
    opt = load_yaml(path)
    if not isinstance(opt, dict) or key not in opt:
        found = sorted(k for k in opt if str(k).startswith('network_')) if isinstance(opt, dict) else []
        raise ToolError(f'{path}: no {key} in the options (networks: {", ".join(found) or "none"})')
    net = build(opt[key], f'{path}: {key}')
    return net, f'{opt[key]["type"]} ({path}: {key})', opt[key].get('num_in_ch', 3)


def network_from_genotype(spec, num_feat, num_layers, scale):
    """Build an HNASNet from a published genotype name or a YAML genotype file.

    Returns:
        tuple: (network, label, input channels).
    """
    published = published_genotypes()
    if spec in published:
        mapping = published[spec].to_dict()
    elif os.path.isfile(spec):
        mapping = load_yaml(spec)
    else:
        raise ToolError(f'--genotype {spec}: neither a published genotype ({", ".join(published)}) nor a file')
    try:
        genotype = Genotype.from_dict(mapping, num_layers)
    except GenotypeError as exc:
        raise ToolError(f'{spec}: {exc}') from None
    net_opt = {
        'type': 'HNASNet',
        'genotype': genotype.to_dict(),
        'num_feat': num_feat,
        'num_layers': num_layers,
        'upscale': scale
    }
    net = build(net_opt, f'--genotype {spec}')
    return net, f'HNASNet {spec} x{scale} (num_feat {num_feat}, num_layers {num_layers})', 3


def macs_by_module(net, lr_size, in_ch, depth):
    """Multiply-adds of the submodules down to ``depth`` levels below the network, in call order.

    Returns:
        list[tuple[str, int]]: (dotted module name, multiply-adds); modules that count zero are left out.
    """
    meta_net = copy.deepcopy(net).to('meta')
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        meta_net(torch.empty(1, in_ch, *lr_size, device='meta'))
    rows = []
    for name, flops in counter.get_flop_counts().items():
        parts = name.split('.')[1:]  # drop the root ('Global' and the network's class name have no parts)
        if 1 <= len(parts) <= depth:
            rows.append(('.'.join(parts), sum(flops.values()) // 2))
    return rows


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument('-opt', help='a BasicSR option file')
    source.add_argument('--genotype', help='a published genotype (HNAS_A, HNAS_B, HNAS_C) or a YAML genotype file')
    parser.add_argument('--network', help='with -opt: the options key of the network (default: network_g)')
    for name, default in GENOTYPE_DEFAULTS.items():
        parser.add_argument(f'--{name.replace("_", "-")}', type=int, help=f'with --genotype (default: {default})')
    parser.add_argument(
        '--lr-size', type=int, nargs=2, metavar=('H', 'W'), default=DEFAULT_LR_SIZE, help='LR input size')
    parser.add_argument('--by-module', type=int, metavar='DEPTH', help='also list modules down to this depth')
    args = parser.parse_args(argv)
    if args.opt is not None and any(getattr(args, name) is not None for name in GENOTYPE_DEFAULTS):
        parser.error('--num-feat, --num-layers and --scale apply to --genotype only')
    if args.genotype is not None and args.network is not None:
        parser.error('--network applies to -opt only')
    if min(args.lr_size) < 1 or (args.by_module is not None and args.by_module < 1):
        parser.error('--lr-size and --by-module take positive integers')
    return args


def main(argv=None) -> int:
    """Print the cost of one network; return the exit status (0, or 2 on an error)."""
    args = parse_args(argv)
    lr_size = tuple(args.lr_size)
    try:
        if args.opt is not None:
            net, label, in_ch = network_from_options(args.opt, args.network or 'network_g')
        else:
            sizes = (default if getattr(args, name) is None else getattr(args, name)
                     for name, default in GENOTYPE_DEFAULTS.items())
            net, label, in_ch = network_from_genotype(args.genotype, *sizes)
        try:
            cost = count_cost(net, lr_size, in_ch)
            rows = macs_by_module(net, lr_size, in_ch, args.by_module) if args.by_module else []
        except Exception as exc:  # a forward pass of any registered arch
            raise ToolError(f'{label}: cannot run on a 1x{in_ch}x{lr_size[0]}x{lr_size[1]} input: {one_line(exc)}')
    except ToolError as exc:
        print(f'count_flops.py: error: {exc}', file=sys.stderr)
        return 2
    print(f'{label}: {cost.params / 1e6:.3f} M params ({cost.params:,}), '
          f'{cost.macs / 1e9:.1f} G multiply-adds ({cost.macs:,})')
    print(f'  protocol: {protocol(lr_size, in_ch)}')
    width = max((len(name) for name, _ in rows), default=0)
    for name, macs in rows:
        share = 100 * macs / cost.macs if cost.macs else 0
        print(f'  {name:<{width}}  {macs / 1e9:10.3f} G  {share:5.1f} %  ({macs:,})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
