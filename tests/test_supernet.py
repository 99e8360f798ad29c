"""HNASSuperNet: a path equals HNASNet with the same weights; its cost table equals count_cost."""
import random

import pytest
import torch

from hnas_basicsr.archs.hnas_arch import HNASNet
from hnas_basicsr.archs.hnas_supernet_arch import HNASSuperNet
from hnas_basicsr.nas import space
from hnas_basicsr.nas.cost import PathCostTable, count_cost


@pytest.mark.parametrize('scale, global_skip', [(2, None), (3, 'bicubic'), (4, None)])
def test_path_equals_extracted_hnasnet(scale, global_skip):
    torch.manual_seed(0)
    net = HNASSuperNet(num_feat=4, num_layers=5, upscale=scale, global_skip=global_skip)
    x = torch.rand(2, 3, 7, 6)
    for seed in range(4):
        genotype = space.random_genotype(5, random.Random(seed))
        net.set_genotype(genotype)
        expected = net(x)
        assert torch.allclose(net.extract(genotype)(x), expected, atol=1e-6)
        assert expected.shape == (2, 3, 7 * scale, 6 * scale)


def test_forward_without_architecture_says_what_to_do():
    with pytest.raises(RuntimeError, match='set_genotype'):
        HNASSuperNet(num_feat=2, num_layers=2)(torch.rand(1, 3, 4, 4))


def test_path_trains_only_its_own_edges():
    net = HNASSuperNet(num_feat=4, num_layers=3)
    genotype = space.random_genotype(3, random.Random(1))
    net(torch.rand(1, 3, 6, 6), genotype).mean().backward()
    used = {name for name, p in net.named_parameters() if p.grad is not None}
    assert used and len(used) < len(list(net.parameters()))
    unused_cell = (genotype.position % 3)  # a layer index whose upsampling cell is not on the path
    assert not any(n.startswith(f'upsampling_cells.{unused_cell}.') for n in used)


def test_low_and_high_resolution_normal_cells_share_weights():
    net = HNASSuperNet(num_feat=4, num_layers=4)
    base = space.random_genotype(4, random.Random(3))
    early = space.decode(space.encode(base)[:-1] + [0], 4)  # position 1: layer 3 runs at high resolution
    late = space.decode(space.encode(base)[:-1] + [3], 4)  # position 4: layer 3 runs at low resolution
    weights = [dict(net.extract(g).cells[2].named_parameters()) for g in (early, late)]
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


@pytest.mark.parametrize('scale', [2, 3, 4])
def test_cost_table_equals_count_cost_of_hnasnet(scale):
    table = PathCostTable(num_feat=8, num_layers=6, upscale=scale, lr_size=(32, 24))
    rng = random.Random(scale)
    for _ in range(25):
        genotype = space.random_genotype(6, rng)
        net = HNASNet(genotype.to_dict(), num_feat=8, num_layers=6, upscale=scale)
        assert table.cost(genotype) == count_cost(net, (32, 24))
