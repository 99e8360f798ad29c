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
