"""Every op at every scale: exact output size, gradient flows."""
import pytest
import torch

from hnas_basicsr.nas.operations import build_op
from hnas_basicsr.nas.space import NORMAL_OPS, SCALES, UPSAMPLING_OPS


@pytest.mark.parametrize('scale', SCALES)
@pytest.mark.parametrize('op', NORMAL_OPS)
def test_normal_op_keeps_size_and_passes_gradient(op, scale):
    x = torch.randn(2, 4, 7, 9, requires_grad=True)
    y = build_op('normal', op, 4, scale)(x)
    assert y.shape == x.shape
    y.square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


@pytest.mark.parametrize('scale', SCALES)
@pytest.mark.parametrize('op', UPSAMPLING_OPS)
def test_upsampling_op_gives_exactly_scale_times_size(op, scale):
    x = torch.randn(2, 4, 7, 9, requires_grad=True)
    y = build_op('upsampling', op, 4, scale)(x)
    assert y.shape == (2, 4, 7 * scale, 9 * scale)
    y.square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


@pytest.mark.parametrize('op', UPSAMPLING_OPS)
def test_upsampling_op_at_stride_one_keeps_size(op):
    x = torch.randn(1, 4, 6, 5)
    assert build_op('upsampling', op, 4, 1)(x).shape == x.shape


@pytest.mark.parametrize('op', NORMAL_OPS + UPSAMPLING_OPS)
def test_ops_have_no_weights_shared_between_instances(op):
    kind = 'normal' if op in NORMAL_OPS else 'upsampling'
    a, b = build_op(kind, op, 4, 2), build_op(kind, op, 4, 2)
    assert not set(map(id, a.parameters())) & set(map(id, b.parameters()))


def test_stride_one_sub_pixel_is_the_identity_as_the_authors():
    assert isinstance(build_op('upsampling', 'sub_pixel', 4, 1), torch.nn.Identity)


def test_x4_uses_the_authors_kernels():
    deconv = build_op('upsampling', 'deconvolution', 4, 4)
    assert deconv.kernel_size == (5, 5) and deconv.stride == (4, 4)
    stages = [m for m in build_op('upsampling', 'sub_pixel', 4, 4) if isinstance(m, torch.nn.PixelShuffle)]
    assert [m.upscale_factor for m in stages] == [2, 2]


@pytest.mark.parametrize('op', ['sep_conv_3x3', 'sep_conv_5x5', 'dil_conv_3x3', 'dil_conv_5x5'])
def test_separable_and_dilated_convs_have_no_bias_as_the_authors(op):
    convs = [m for m in build_op('normal', op, 4, 2).modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs and all(m.bias is None for m in convs)
