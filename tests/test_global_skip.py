"""GlobalSkipWrapper: any BasicSR network as a residual over the interpolated input, as HNASNet's global_skip."""
import hnas_basicsr  # noqa: F401  (registers the plugin; before basicsr)
import pytest
import torch
from basicsr.archs import build_network
from torch.nn import functional as F

from hnas_basicsr.nas.cost import count_cost

EDSR = {'type': 'EDSR', 'num_in_ch': 3, 'num_out_ch': 3, 'num_feat': 8, 'num_block': 2, 'upscale': 2,
        'res_scale': 1, 'img_range': 255., 'rgb_mean': [0.4488, 0.4371, 0.4040]}
RCAN = {'type': 'RCAN', 'num_in_ch': 3, 'num_out_ch': 3, 'num_feat': 8, 'num_group': 1, 'num_block': 1,
        'squeeze_factor': 4, 'upscale': 3, 'res_scale': 1, 'img_range': 255., 'rgb_mean': [0.4488, 0.4371, 0.4040]}


@pytest.mark.parametrize('body, skip', [(EDSR, 'bicubic'), (RCAN, 'bilinear')])
def test_zero_tail_gives_the_interpolated_input(body, skip):
    """With the wrapped network's last conv zeroed the output is exactly the interpolation (its mean taken off)."""
    net = build_network({'type': 'GlobalSkipWrapper', 'network': body, 'global_skip': skip})
    torch.nn.init.zeros_(net.body.conv_last.weight)
    torch.nn.init.zeros_(net.body.conv_last.bias)
    x = torch.rand(1, 3, 10, 12)
    expected = F.interpolate(x, scale_factor=body['upscale'], mode=skip, align_corners=False)
    assert torch.allclose(net(x), expected, atol=1e-6)
    plain = build_network(dict(body))
    plain.load_state_dict(net.body.state_dict())
    assert not torch.allclose(plain(x), expected, atol=1e-3)  # unwrapped: the mean, not the input


def test_same_weights_and_cost_as_the_wrapped_network():
    net = build_network({'type': 'GlobalSkipWrapper', 'network': EDSR})
    plain = build_network(dict(EDSR))
    plain.load_state_dict(net.body.state_dict())
    x = torch.rand(2, 3, 8, 8)
    bicubic = F.interpolate(x, scale_factor=2, mode='bicubic', align_corners=False)
    assert torch.allclose(net(x), plain(x) - plain.mean + bicubic, atol=1e-5)
    assert count_cost(net, (16, 16)) == count_cost(plain, (16, 16))


@pytest.mark.parametrize('kwargs, match', [
    ({'network': 'EDSR'}, 'network'),
    ({'network': EDSR, 'global_skip': 'nearest'}, 'global_skip'),
    ({'network': {k: v for k, v in EDSR.items() if k != 'upscale'}}, 'upscale'),
])
def test_bad_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        build_network({'type': 'GlobalSkipWrapper', **kwargs})
