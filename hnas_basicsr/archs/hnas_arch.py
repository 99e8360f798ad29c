"""HNASNet: a derived HNAS network, an ordinary BasicSR architecture."""
import torch
from basicsr.utils.registry import ARCH_REGISTRY
from torch import nn
from torch.nn import functional as F

from hnas_basicsr.nas.cells import Cell
from hnas_basicsr.nas.genotype import Genotype
from hnas_basicsr.nas.initialization import lsuv_, natural_images
from hnas_basicsr.nas.space import NUM_NODES, SCALES

DIV2K_RGB_MEAN = (0.4488, 0.4371, 0.4040)
GLOBAL_SKIPS = (None, 'bilinear', 'bicubic')
INITS = ('lsuv', 'pytorch')
CALIBRATION_BATCH = dict(num=2, height=16, width=16)  # LR images that LSUV calibrates every conv on


def check_positive_int(name, value):
    """Raise ValueError unless ``value`` is a positive integer (YAML values arrive unchecked)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f'{name}: expected a positive integer, got {value!r}')


def check_scale(upscale):
    if upscale not in SCALES:
        raise ValueError(f'upscale: expected one of {", ".join(map(str, SCALES))}, got {upscale!r}')


class MeanShift(nn.Module):
    """Subtract (``sign=-1``) or add back (``sign=1``) the data mean, scaled by ``img_range``.

    A fixed 1x1 convolution, as in the authors' (EDSR-PyTorch's) networks, so that it is counted as theirs is
    (num_ch * num_ch multiply-adds per pixel); its only state is the ``mean`` buffer.
    """

    def __init__(self, num_ch, img_range, rgb_mean, sign):
        super().__init__()
        mean = rgb_mean if num_ch == 3 else [0.5] * num_ch
        self.register_buffer('mean', torch.tensor(mean, dtype=torch.float32).view(1, num_ch, 1, 1))
        self.img_range, self.sign = img_range, sign

    def forward(self, x):
        gain = self.img_range if self.sign < 0 else 1 / self.img_range
        bias = -self.img_range * self.mean if self.sign < 0 else self.mean
        eye = torch.eye(self.mean.shape[1], dtype=x.dtype, device=x.device)
        return F.conv2d(x, (gain * eye)[:, :, None, None], bias.flatten().to(x.dtype))


class HNASStemTail(nn.Module):
    """What every HNAS network shares: mean shift, head conv to NUM_NODES * C channels, tail conv.

    Arguments are those of :class:`HNASNet` without the genotype; they are checked and kept in ``hparams``.

    The cells run in ``memory_format`` (channels_last by default: oneDNN's fast path for the depthwise, dilated
    and transposed convs on the CPU, see bench/fast_ops.py); the output is returned contiguous either way.
    """

    memory_format = torch.channels_last

    def __init__(self,
                 num_in_ch=3,
                 num_out_ch=3,
                 num_feat=64,
                 num_layers=12,
                 upscale=2,
                 img_range=255.,
                 rgb_mean=DIV2K_RGB_MEAN,
                 global_skip=None,
                 cell_residual=False):
        super().__init__()
        if global_skip not in GLOBAL_SKIPS:
            raise ValueError(f'global_skip: expected one of {", ".join(map(str, GLOBAL_SKIPS))}, got {global_skip!r}')
        if global_skip is not None and num_in_ch != num_out_ch:
            raise ValueError(f'global_skip: {global_skip} needs num_in_ch == num_out_ch, got {num_in_ch}, {num_out_ch}')
        if not isinstance(cell_residual, bool):
            raise ValueError(f'cell_residual: expected true or false, got {cell_residual!r}')
        for name, value in (('num_in_ch', num_in_ch), ('num_out_ch', num_out_ch), ('num_feat', num_feat),
                            ('num_layers', num_layers)):
            check_positive_int(name, value)
        check_scale(upscale)
        self.hparams = dict(num_in_ch=num_in_ch, num_out_ch=num_out_ch, num_feat=num_feat, num_layers=num_layers,
                            upscale=upscale, img_range=img_range, rgb_mean=list(rgb_mean), global_skip=global_skip,
                            cell_residual=cell_residual)
        width = NUM_NODES * num_feat
        self.sub_mean = MeanShift(num_in_ch, img_range, rgb_mean, sign=-1)
        self.add_mean = MeanShift(num_out_ch, img_range, rgb_mean, sign=1)
        self.conv_first = nn.Conv2d(num_in_ch, width, 3, padding=1, bias=False)
        self.conv_last = nn.Conv2d(width, num_out_ch, 3, padding=1)

    def head(self, x):
        """Head conv of the mean-shifted input."""
        return self.conv_first(x)

    def run_cells(self, x, cells):
        """Mean shift and head, then each ``cell(s0, s1)`` on the outputs of the two previous cells, then tail.

        As in the authors' network, the cell after the upsampling cell (the one whose output changes the
        resolution) gets that output as both inputs. Without ``cell_residual`` a cell's output reaches the next
        two cells only through their input ReLUs, so it is rectified once, in place (the last one excepted: the tail
        reads it as it is). With ``cell_residual`` each cell's output is added to its input ``s1`` (nearest-upsampled
        by the scale for the upsampling cell, whose output is exactly scale times its input: a constant factor, not a
        size read from a shape, for ONNX). A global skip adds the interpolated input
        before the mean is added back (interpolation keeps constants, so this is the residual over the interpolated
        image).
        """
        x = self.sub_mean(x.contiguous(memory_format=self.memory_format))
        s0 = s1 = self.head(x)
        residual = self.hparams['cell_residual']
        if not residual:
            s1.relu_()
        for layer, cell in enumerate(cells, 1):
            out = cell(s0, s1, rectified=not residual)
            resized = out.shape[-2:] != s1.shape[-2:]
            if residual:  # in place: the cell's output is its own new concatenation
                out += F.interpolate(s1, scale_factor=self.hparams['upscale'], mode='nearest') if resized else s1
            elif layer < len(cells):
                out.relu_()
            s0, s1 = (out, out) if resized else (s1, out)
        out = self.conv_last(s1)
        if self.hparams['global_skip'] is not None:
            out = out + F.interpolate(
                x, scale_factor=self.hparams['upscale'], mode=self.hparams['global_skip'], align_corners=False)
        return self.add_mean(out).contiguous()


@ARCH_REGISTRY.register()
class HNASNet(HNASStemTail):
    """A network derived by HNAS: head conv, ``num_layers`` cells (one upsampling cell), tail conv.

    Args:
        genotype (dict): ``normal``, ``upsampling`` and ``position`` (1..num_layers); see
            :class:`hnas_basicsr.nas.genotype.Genotype`.
        num_in_ch (int): Input channels. Default: 3.
        num_out_ch (int): Output channels. Default: 3.
        num_feat (int): C, the channels of every op; cells output NUM_NODES * C. Default: 64.
        num_layers (int): L, cells in the network. Default: 12.
        upscale (int): 2, 3 or 4. Default: 2.
        img_range (float): Image range. Default: 255 as in basicsr's EDSR.
        rgb_mean (list[float]): Mean subtracted from a 3-channel input. Default: DIV2K mean.
        global_skip (str | None): None (default, as the paper): the cells produce the image; 'bilinear' or
            'bicubic': they produce the residual over that interpolation of the input (parameter-free, cost 0),
            which trains much faster on small budgets.
        cell_residual (bool): False (default, as the paper): cells are chained plainly; True: each cell's output
            is added to its input (nearest-upsampled at the upsampling cell; parameter-free, cost 0), an identity
            path through all L cells under which every genotype of the space trains (not in the paper; see the
            README's trainability section).
        init (str): 'lsuv' (default): every conv but the tail rescaled to unit output std on a synthetic
            calibration batch, biases and tail zero (:mod:`hnas_basicsr.nas.initialization`), so the input's
            signal reaches the tail for every genotype; 'pytorch': PyTorch's default layer initialisation,
            under which it fades.
    """

    def __init__(self,
                 genotype,
                 num_in_ch=3,
                 num_out_ch=3,
                 num_feat=64,
                 num_layers=12,
                 upscale=2,
                 img_range=255.,
                 rgb_mean=DIV2K_RGB_MEAN,
                 global_skip=None,
                 cell_residual=False,
                 init='lsuv'):
        super().__init__(num_in_ch, num_out_ch, num_feat, num_layers, upscale, img_range, rgb_mean, global_skip,
                         cell_residual)
        if init not in INITS:
            raise ValueError(f'init: expected one of {", ".join(INITS)}, got {init!r}')
        self.genotype = Genotype.from_dict(genotype, num_layers)
        width = NUM_NODES * num_feat
        self.cells = nn.ModuleList(
            Cell('upsampling', self.genotype.upsampling, width, num_feat, upscale) if layer == self.genotype.position
            else Cell('normal', self.genotype.normal, width, num_feat, upscale) for layer in range(1, num_layers + 1))
        if init == 'lsuv':
            self.lsuv_init_()

    @torch.no_grad()
    def lsuv_init_(self):
        """LSUV on the head and every cell conv (unit output std on a calibration batch), a zero tail.

        The zero tail makes the initial output the mean image (with a global skip: the interpolated input)
        instead of noise.
        """
        x = natural_images(channels=self.hparams['num_in_ch'], **CALIBRATION_BATCH)
        convs = [self.conv_first] + [m for m in self.cells.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
        lsuv_(self, x, convs)
        nn.init.zeros_(self.conv_last.weight)
        nn.init.zeros_(self.conv_last.bias)

    def forward(self, x):
        return self.run_cells(x, self.cells)
