"""LSUV initialisation: the input's signal reaches the tail of every genotype; PyTorch's default loses it."""
import random

import pytest
import torch

from hnas_basicsr.archs.hnas_arch import HNASNet
from hnas_basicsr.nas import space
from hnas_basicsr.nas.genotype import published_genotypes
from hnas_basicsr.nas.initialization import cell_signal, lsuv_, natural_images

GENOTYPES = list(published_genotypes().values()) + [space.random_genotype(12, random.Random(k)) for k in range(3)]


def test_calibration_images_are_deterministic_and_in_range():
    x = natural_images(2, 3, 16, 20)
    assert x.shape == (2, 3, 16, 20) and torch.equal(x, natural_images(2, 3, 16, 20))
    assert 0 <= x.min() and x.max() <= 1 and 0.1 < x.std() < 0.3


def test_lsuv_gives_every_rescaled_conv_the_target_std():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(8, 8, 3, padding=1))
    x = torch.randn(4, 3, 12, 12) * 50
    lsuv_(net, x, [net[0], net[2]], target_std=2.0)
    assert torch.allclose(net[0](x).std(), torch.tensor(2.0), rtol=1e-4)
    assert torch.allclose(net(x).std(), torch.tensor(2.0), rtol=1e-4)
    assert not net[0].bias.any() and not net[2].bias.any()


@pytest.mark.parametrize('genotype', GENOTYPES, ids=lambda g: f'position{g.position}')
def test_signal_reaches_the_tail_of_every_cell_stack(genotype):
    torch.manual_seed(0)
    x = natural_images(4, 3, 16, 16, seed=1)  # not the calibration batch
    stats = cell_signal(HNASNet(genotype.to_dict(), num_feat=8), x)
    assert len(stats) == 13
    assert all(0.5 < std < 4 for std, _ in stats)
    assert stats[-1][1] > 0.02


def test_pytorch_default_init_loses_the_signal():
    torch.manual_seed(0)
    x = natural_images(4, 3, 16, 16, seed=1)
    stats = cell_signal(HNASNet(published_genotypes()['HNAS_B'].to_dict(), num_feat=16, init='pytorch'), x)
    assert stats[-1][0] < 0.01 * stats[0][0]


def test_lsuv_initial_output_is_the_mean_image_or_the_skip():
    x = torch.rand(1, 3, 6, 6)
    plain = HNASNet(published_genotypes()['HNAS_A'].to_dict(), num_feat=4)
    assert torch.allclose(plain(x), plain.add_mean.mean.expand(1, 3, 12, 12), atol=1e-6)


def test_unknown_init_is_rejected_by_name():
    with pytest.raises(ValueError, match="init: expected one of lsuv, pytorch, got 'xavier'"):
        HNASNet(published_genotypes()['HNAS_A'].to_dict(), init='xavier')
