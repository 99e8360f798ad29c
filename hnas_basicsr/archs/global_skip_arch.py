"""Any BasicSR SR network with the interpolation skip of HNASNet's ``global_skip``, for comparisons on equal terms."""
import copy

import torch
from basicsr.archs import build_network
from basicsr.utils.registry import ARCH_REGISTRY
from torch import nn
from torch.nn import functional as F

SKIPS = ('bilinear', 'bicubic')


@ARCH_REGISTRY.register()
class GlobalSkipWrapper(nn.Module):
    """``network(x)`` as a residual over the ``global_skip`` interpolation of ``x``, as HNASNet with ``global_skip``.

    A network that adds its RGB mean back at the output (basicsr's EDSR and RCAN: a ``mean`` tensor and
    ``img_range``) has that mean taken off again, so at initialisation the output is the interpolated input plus a
    zero-mean residual, exactly as HNASNet's. Parameter-free; adds 0 multiply-adds (interpolation is not counted).

    Args:
        network (dict): The wrapped network's options (``type`` and its arguments), e.g. basicsr's EDSR.
        global_skip (str): 'bicubic' (default) or 'bilinear'.
        upscale (int | None): Scale of the skip. Default: the wrapped network's ``upscale``.
    """

    def __init__(self, network, global_skip='bicubic', upscale=None):
        super().__init__()
        if not isinstance(network, dict) or not isinstance(network.get('type'), str):
            raise ValueError(f'network: expected the wrapped network\'s options with a type, got {network!r}')
        if global_skip not in SKIPS:
            raise ValueError(f'global_skip: expected one of {", ".join(SKIPS)}, got {global_skip!r}')
        upscale = upscale if upscale is not None else network.get('upscale')
        if isinstance(upscale, bool) or not isinstance(upscale, int) or upscale < 1:
            raise ValueError(f'upscale: expected a positive integer (or the wrapped network\'s), got {upscale!r}')
        self.body = build_network(copy.deepcopy(network))
        self.global_skip, self.upscale = global_skip, upscale

    def forward(self, x):
        out = self.body(x)
        mean = getattr(self.body, 'mean', None)
        if isinstance(mean, torch.Tensor):
            out = out - mean.type_as(out)
        return out + F.interpolate(x, scale_factor=self.upscale, mode=self.global_skip, align_corners=False)
