"""Exact cost of a network: parameters and multiply-adds, counted by torch.utils.flop_counter.

Protocol (printed beside every figure): multiply-adds = FLOPs / 2 as counted by
``torch.utils.flop_counter.FlopCounterMode`` for one forward pass of a 1 x C x H x W low-resolution
input: every convolution (transposed ones included) and matrix multiply; bias, activations,
interpolation, pixel shuffle, pooling and additions count zero. The pass runs on meta tensors, so
a 480 x 480 count allocates nothing.
"""
import copy
from typing import NamedTuple, Tuple

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

DEFAULT_LR_SIZE = (480, 480)


def protocol(lr_size: Tuple[int, int] = DEFAULT_LR_SIZE, in_ch: int = 3) -> str:
    """The counting protocol in one line, to print beside a figure."""
    return (f'multiply-adds for one {in_ch}x{lr_size[0]}x{lr_size[1]} LR input, every conv and transposed conv '
            '(bias, activations, interpolation, pixel shuffle and additions not counted; torch.utils.flop_counter)')


class Cost(NamedTuple):
    params: int
    macs: int

    def __add__(self, other):
        return Cost(self.params + other.params, self.macs + other.macs)

    def describe(self) -> str:
        return f'{self.params / 1e6:.3f} M params, {self.macs / 1e9:.1f} G multiply-adds'


def count_params(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def count_macs(net: nn.Module, lr_size: Tuple[int, int] = DEFAULT_LR_SIZE, in_ch: int = 3, **forward_kwargs) -> int:
    """Multiply-adds of ``net(x, **forward_kwargs)`` for a 1 x in_ch x H x W input (see module doc)."""
    meta_net = copy.deepcopy(net).to('meta')
    x = torch.empty(1, in_ch, *lr_size, device='meta')
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        meta_net(x, **forward_kwargs)
    return counter.get_total_flops() // 2


def count_cost(net: nn.Module, lr_size: Tuple[int, int] = DEFAULT_LR_SIZE, in_ch: int = 3) -> Cost:
    """Parameters and multiply-adds of ``net``."""
    return Cost(count_params(net), count_macs(net, lr_size, in_ch))


def path_parts(genotype, num_layers):
    """The additive parts of the network of ``genotype``, as keys of a path table: ``'head'``, ``'tail'``,
    ``('network', position)`` (what the cells and ops leave out: skips, residual additions), per cell
    ``('cell', 'lr' | 'hr' | 'up')`` (its node sums and concatenation) and its two input convs ``('pre', res)``, and per
    edge ``('normal', op, res)`` or ``('upsampling', op, from_cell_input)``."""
    p = genotype.position
    parts = ['head', 'tail', ('network', p)]
    for layer in range(1, num_layers + 1):
        if layer == p:
            parts += [('cell', 'up'), ('pre', 'lr'), ('pre', 'lr')]
            parts += [('upsampling', op, source < 2) for node in genotype.upsampling for op, source in node]
            continue
        res = 'lr' if layer < p else 'hr'
        parts += [('cell', res), ('pre', res), ('pre', res)]
        parts += [('normal', op, res) for node in genotype.normal for op, _ in node]
    return parts


class PathCostTable:
    """Exact cost of any architecture of the space from a table built once (cheap per sample).

    Every op's multiply-adds depend only on its kind, the resolution it runs at and (for an
    upsampling op) whether it upsamples, so one count per (op, resolution) on meta tensors gives
    the cost of every path by addition (:func:`path_parts`). The result equals :func:`count_cost` of the
    :class:`HNASNet` of the same genotype and arguments (tested).

    Args:
        num_feat (int): C of the network the cost is for (the retraining width, not the search width).
        num_layers (int): L.
        upscale (int): 2, 3 or 4.
        num_in_ch (int): Input channels. Default: 3.
        num_out_ch (int): Output channels. Default: 3.
        lr_size (tuple[int, int]): LR input size the cost is counted for. Default: 480 x 480.
    """

    def __init__(self, num_feat=64, num_layers=12, upscale=2, num_in_ch=3, num_out_ch=3, lr_size=DEFAULT_LR_SIZE):
        from hnas_basicsr.nas.operations import build_op
        from hnas_basicsr.nas.space import NORMAL_OPS, NUM_NODES, UPSAMPLING_OPS
        self.num_layers, self.lr_size = num_layers, tuple(lr_size)
        width, lr = NUM_NODES * num_feat, tuple(lr_size)
        hr = (lr[0] * upscale, lr[1] * upscale)

        def cost(module, size, channels=num_feat):
            return Cost(count_params(module), count_macs(module, size, channels))

        # the mean shifts are fixed 1x1 convs (no parameters) before the head and after the tail
        shift_in, shift_out = nn.Conv2d(num_in_ch, num_in_ch, 1), nn.Conv2d(num_out_ch, num_out_ch, 1)
        pre = nn.Conv2d(width, num_feat, 1, bias=False)
        self.table = {
            'head': Cost(0, count_macs(shift_in, lr, num_in_ch)) + cost(
                nn.Conv2d(num_in_ch, width, 3, padding=1, bias=False), lr, num_in_ch),
            'tail': cost(nn.Conv2d(width, num_out_ch, 3, padding=1), hr, width) + Cost(
                0, count_macs(shift_out, hr, num_out_ch)),
            ('pre', 'lr'): cost(pre, lr, width), ('pre', 'hr'): cost(pre, hr, width),
            **{('cell', kind): Cost(0, 0) for kind in ('lr', 'hr', 'up')},  # additions count zero
            **{('network', p): Cost(0, 0) for p in range(1, num_layers + 1)},
            **{('normal', op, res): cost(build_op('normal', op, num_feat, upscale), size)
               for op in NORMAL_OPS for res, size in (('lr', lr), ('hr', hr))},
            **{('upsampling', op, from_input): cost(
                build_op('upsampling', op, num_feat, upscale if from_input else 1), lr if from_input else hr)
               for op in UPSAMPLING_OPS for from_input in (True, False)}}

    def cost(self, genotype) -> Cost:
        """Parameters and multiply-adds of the HNASNet of ``genotype`` (a Genotype)."""
        return sum((self.table[key] for key in path_parts(genotype, self.num_layers)), Cost(0, 0))
