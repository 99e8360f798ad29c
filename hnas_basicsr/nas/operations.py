"""Candidate operations of the two cells: op name -> module factory.

Every op maps C channels to C channels. Normal-cell ops keep the spatial size; an upsampling-cell op
built with ``scale=s`` maps H x W to exactly sH x sW for s in 2, 3, 4 (``scale=1`` gives the
stride-1 version used on edges whose input is already at high resolution).
"""
from torch import nn
from torch.nn import functional as F

from hnas_basicsr.nas.space import NORMAL_OPS, UPSAMPLING_OPS

# Kernel, stride, padding of the back-projection (de)convolutions per scale, as in DBPN:
# a transposed conv of these gives exactly s*H, the conv gives back H.
_PROJECTION = {2: (6, 2, 2), 3: (7, 3, 2), 4: (8, 4, 2)}


class SepConv(nn.Sequential):
    """[ReLU, depthwise kxk, 1x1] twice (the second ReLU in place: its input is the first 1x1's own output)."""

    def __init__(self, channels, kernel_size):
        layers = []
        for i in range(2):
            layers += [
                nn.ReLU(inplace=i > 0),
                nn.Conv2d(channels, channels, kernel_size, padding=kernel_size // 2, groups=channels, bias=False),
                nn.Conv2d(channels, channels, 1, bias=False)
            ]
        super().__init__(*layers)


class DilConv(nn.Sequential):
    """ReLU, depthwise kxk with dilation 2, 1x1."""

    def __init__(self, channels, kernel_size):
        super().__init__(
            nn.ReLU(),
            nn.Conv2d(
                channels, channels, kernel_size, padding=kernel_size - 1, dilation=2, groups=channels, bias=False),
            nn.Conv2d(channels, channels, 1, bias=False))


class RCAB(nn.Module):
    """Residual channel attention block: conv3x3, ReLU, conv3x3, channel attention, plus the input."""

    def __init__(self, channels, reduction=3):
        super().__init__()
        squeeze = max(1, channels // reduction)
        self.body = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU(inplace=True),
                                  nn.Conv2d(channels, channels, 3, padding=1))
        self.attention = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Conv2d(channels, squeeze, 1), nn.ReLU(), nn.Conv2d(squeeze, channels, 1),
            nn.Sigmoid())

    def forward(self, x):
        y = self.body(x)
        return x + y * self.attention(y)


class UDPB(nn.Module):
    """Up- and down-projection block (DBPN): up-projection to sH x sW, then down-projection back."""

    def __init__(self, channels, scale):
        super().__init__()
        k, s, p = _PROJECTION[scale]

        def up():
            return nn.Sequential(nn.ConvTranspose2d(channels, channels, k, s, p), nn.PReLU(channels))

        def down():
            return nn.Sequential(nn.Conv2d(channels, channels, k, s, p), nn.PReLU(channels))

        self.up1, self.down1, self.up2 = up(), down(), up()  # up-projection
        self.down2, self.up3, self.down3 = down(), up(), down()  # down-projection

    def forward(self, x):
        h0 = self.up1(x)
        h = h0 + self.up2(self.down1(h0) - x)
        l0 = self.down2(h)
        return l0 + self.down3(self.up3(l0) - h)


class Interpolate(nn.Module):
    """Parameter-free upsampling by ``scale`` (identity at scale 1).

    'area' runs as 'nearest': at an integer factor every output pixel averages exactly one input pixel, so the two
    are equal (tested), and ONNX exports nearest as one Resize, area as a gather subgraph 7x slower in onnxruntime.
    """

    def __init__(self, mode, scale):
        super().__init__()
        self.mode, self.scale = mode, scale

    def forward(self, x):
        if self.scale == 1:
            return x
        mode = 'nearest' if self.mode == 'area' else self.mode
        align = False if mode == 'bilinear' else None
        return F.interpolate(x, scale_factor=self.scale, mode=mode, align_corners=align)

    def extra_repr(self):
        return f'mode={self.mode}, scale={self.scale}'


def sub_pixel(channels, scale):
    """Conv3x3 to C*s^2 channels, then PixelShuffle(s); x4 as two x2 stages; at stride 1 the identity (as theirs)."""
    if scale == 1:
        return nn.Identity()
    factor, repeats = (2, 2) if scale == 4 else (scale, 1)
    layers = []
    for _ in range(repeats):
        layers += [nn.Conv2d(channels, channels * factor * factor, 3, padding=1), nn.PixelShuffle(factor)]
    return nn.Sequential(*layers)


def deconvolution(channels, scale):
    """Transposed conv with stride s giving exactly s*H: 3x3 (output_padding s-1, also exact at x3), 5x5 at x4.

    At x4 the kernel is the authors' 5x5 (padding 1, output_padding 1); at stride 1 a 3x3 same-size transposed conv.
    """
    if scale == 4:
        return nn.ConvTranspose2d(channels, channels, 5, stride=4, padding=1, output_padding=1)
    return nn.ConvTranspose2d(channels, channels, 3, stride=scale, padding=1, output_padding=scale - 1)


NORMAL_FACTORIES = {
    'identity': lambda c, scale: nn.Identity(),
    'dil_conv_3x3': lambda c, scale: DilConv(c, 3),
    'dil_conv_5x5': lambda c, scale: DilConv(c, 5),
    'sep_conv_3x3': lambda c, scale: SepConv(c, 3),
    'sep_conv_5x5': lambda c, scale: SepConv(c, 5),
    'udpb': UDPB,
    'rcab': lambda c, scale: RCAB(c),
}
UPSAMPLING_FACTORIES = {
    'area': lambda c, scale: Interpolate('area', scale),
    'bilinear': lambda c, scale: Interpolate('bilinear', scale),
    'nearest': lambda c, scale: Interpolate('nearest', scale),
    'sub_pixel': sub_pixel,
    'deconvolution': deconvolution,
}
assert tuple(NORMAL_FACTORIES) == NORMAL_OPS and tuple(UPSAMPLING_FACTORIES) == UPSAMPLING_OPS


def build_op(kind: str, name: str, channels: int, scale: int) -> nn.Module:
    """Build op ``name`` of cell ``kind``.

    Args:
        kind (str): 'normal' or 'upsampling'.
        name (str): An op of that cell's vocabulary.
        channels (int): C, input and output channels.
        scale (int): The network's scale for normal ops (UDPB projects by it); for upsampling ops the
            factor this edge upsamples by (1 for edges from intermediate nodes).
    """
    factories = NORMAL_FACTORIES if kind == 'normal' else UPSAMPLING_FACTORIES
    return factories[name](channels, scale)
