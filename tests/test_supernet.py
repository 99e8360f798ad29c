"""HNASSuperNet: a path equals HNASNet with the same weights; its cost table equals count_cost; its cells'
BatchNorm (CellBatchNorm) normalises small channels_last inputs in NCHW."""
import random

import pytest
import torch

from hnas_basicsr.archs.hnas_arch import HNASNet
from hnas_basicsr.archs.hnas_supernet_arch import HNASSuperNet
from hnas_basicsr.nas import space
from hnas_basicsr.nas.cost import PathCostTable, count_cost


@pytest.mark.parametrize('scale, global_skip, cell_residual', [(2, None, False), (3, 'bicubic', True), (4, None, True)])
def test_path_without_normalisation_equals_extracted_hnasnet(scale, global_skip, cell_residual):
    torch.manual_seed(0)
    net = HNASSuperNet(num_feat=4, num_layers=5, upscale=scale, global_skip=global_skip, cell_residual=cell_residual,
                       normalize=False)
    x = torch.rand(2, 3, 7, 6)
    for seed in range(4):
        genotype = space.random_genotype(5, random.Random(seed))
        net.set_genotype(genotype)
        expected = net(x)
        assert torch.allclose(net.extract(genotype)(x), expected, atol=1e-6)
        assert expected.shape == (2, 3, 7 * scale, 6 * scale)


def test_normalised_supernet_extracts_the_same_plain_network():
    torch.manual_seed(0)
    plain = HNASSuperNet(num_feat=4, num_layers=4, normalize=False)
    normalized = HNASSuperNet(num_feat=4, num_layers=4)
    assert set(normalized.state_dict()) == set(plain.state_dict()) | {'head_norm.weight', 'head_norm.bias'}
    tracked = HNASSuperNet(num_feat=4, num_layers=4, track_running_stats=True).state_dict()
    assert any(k.endswith('running_mean') for k in tracked)
    normalized.load_state_dict(plain.state_dict(), strict=False)
    genotype = space.random_genotype(4, random.Random(2))
    x = torch.rand(2, 3, 6, 6)
    assert torch.equal(normalized.extract(genotype)(x), plain.extract(genotype)(x))
    assert not torch.allclose(normalized(x, genotype), plain(x, genotype))


def test_normalised_supernet_scores_on_batch_statistics_in_train_and_eval_mode():
    net = HNASSuperNet(num_feat=4, num_layers=4)
    genotype = space.random_genotype(4, random.Random(5))
    x = torch.rand(2, 3, 6, 6)
    assert torch.equal(net.train()(x, genotype), net.eval()(x, genotype))


def test_normalised_supernet_keeps_every_op_output_at_unit_variance():
    net = HNASSuperNet(num_feat=4, num_layers=6)
    stds = []
    for cell in net.normal_cells:
        cell.register_forward_hook(lambda module, args, out: stds.append(out.std().item()))
    net(torch.rand(4, 3, 8, 8), space.decode(space.encode(space.random_genotype(6, random.Random(0)))[:-1] + [5], 6))
    assert len(stds) == 5 and all(0.8 < s < 5 for s in stds)


def test_normalize_must_be_a_boolean():
    with pytest.raises(ValueError, match="normalize: expected true or false, got 'yes'"):
        HNASSuperNet(num_feat=2, num_layers=2, normalize='yes')
    with pytest.raises(ValueError, match='track_running_stats: expected true or false, got 1'):
        HNASSuperNet(num_feat=2, num_layers=2, track_running_stats=1)


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


def test_cell_batch_norm_normalises_channels_last_input_as_precisely_as_nchw():
    """Below 16 channels the cells' BatchNorm works in NCHW: PyTorch's channels_last kernel errs by ~1e-5 there."""
    from torch.nn import functional as F

    from hnas_basicsr.nas.cells import CellBatchNorm

    torch.manual_seed(0)
    x = (torch.randn(16, 8, 96, 96) * 3 + 1).contiguous(memory_format=torch.channels_last).requires_grad_()
    grad = torch.randn_like(x)
    out = CellBatchNorm(8, affine=False, track_running_stats=False)(x)
    out.backward(grad)
    assert out.is_contiguous(memory_format=torch.channels_last)
    assert x.grad.is_contiguous(memory_format=torch.channels_last)
    x64 = x.detach().double().requires_grad_()
    reference = F.batch_norm(x64, None, None, training=True)
    reference.backward(grad.double())
    assert (out.double() - reference).abs().max() < 2e-6
    assert torch.allclose(x.grad.double(), x64.grad, atol=1e-5)


def test_normalised_supernet_gives_the_same_output_and_gradients_in_both_layouts():
    torch.manual_seed(0)
    net = HNASSuperNet(num_feat=4, num_layers=4, upscale=2)
    x = torch.rand(4, 3, 10, 9)
    genotype = space.random_genotype(4, random.Random(3))
    results = []
    for memory_format in (torch.contiguous_format, torch.channels_last):
        net.memory_format = memory_format
        net.zero_grad(set_to_none=True)
        out = net(x, genotype)
        out.square().mean().backward()
        results.append((out.detach(), [p.grad for p in net.parameters()]))
    (out_a, grads_a), (out_b, grads_b) = results
    assert torch.allclose(out_a, out_b, rtol=1e-4, atol=1e-5)
    for a, b in zip(grads_a, grads_b):
        assert (a is None and b is None) or torch.allclose(a, b, rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize('channels, layout_normalised', [(8, 'NCHW'), (16, 'channels_last')])
def test_cell_batch_norm_normalises_in_nchw_below_16_channels(monkeypatch, channels, layout_normalised):
    from torch.nn import functional as F

    from hnas_basicsr.nas.cells import CellBatchNorm

    layouts, batch_norm = [], F.batch_norm

    def recording(x, *args, **kwargs):
        layouts.append('NCHW' if x.is_contiguous() else 'channels_last')
        return batch_norm(x, *args, **kwargs)
    monkeypatch.setattr(F, 'batch_norm', recording)
    x = torch.rand(2, channels, 5, 4).contiguous(memory_format=torch.channels_last)
    out = CellBatchNorm(channels, affine=False, track_running_stats=False)(x)
    assert layouts == [layout_normalised] and out.is_contiguous(memory_format=torch.channels_last)


def test_cell_batch_norm_keeps_running_statistics_and_eval_mode_of_batch_norm():
    from hnas_basicsr.nas.cells import CellBatchNorm

    torch.manual_seed(0)
    ours, reference = CellBatchNorm(8), torch.nn.BatchNorm2d(8)
    reference.load_state_dict(ours.state_dict())
    for _ in range(3):
        x = torch.randn(4, 8, 6, 5) * 2 + 1
        ours(x.contiguous(memory_format=torch.channels_last))
        reference(x)
    assert torch.allclose(ours.running_mean, reference.running_mean, atol=1e-6)
    assert torch.allclose(ours.running_var, reference.running_var, atol=1e-6)
    ours.eval(), reference.eval()
    x = torch.randn(4, 8, 6, 5)
    assert torch.allclose(ours(x.contiguous(memory_format=torch.channels_last)), reference(x), atol=1e-6)
