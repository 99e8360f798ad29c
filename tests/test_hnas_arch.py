"""HNASNet: registry, exact output sizes, one upsampling cell, build through basicsr from an option file."""
import pytest
import torch
import yaml
from basicsr.archs import build_network
from basicsr.utils.registry import ARCH_REGISTRY
from torch.nn import functional as F

from hnas_basicsr.archs.hnas_arch import HNASNet
from hnas_basicsr.nas.cells import Cell, node_sum
from hnas_basicsr.nas.genotype import GenotypeError, published_genotypes

PUBLISHED = published_genotypes()


def test_registered_classes_are_found_by_basicsr():
    for name in ('HNASNet', 'HNASSuperNet'):
        assert ARCH_REGISTRY.get(name).__name__ == name


@pytest.mark.parametrize('scale', [2, 3, 4])
@pytest.mark.parametrize('name', sorted(PUBLISHED))
def test_published_networks_give_exact_output_size(name, scale):
    net = HNASNet(PUBLISHED[name].to_dict(), num_feat=4, upscale=scale)
    x = torch.rand(1, 3, 10, 13)
    assert net(x).shape == (1, 3, 10 * scale, 13 * scale)


def test_upsampling_cell_runs_once_per_forward():
    net = HNASNet(PUBLISHED['HNAS_A'].to_dict(), num_feat=4)
    calls = []
    for cell in net.cells:
        cell.register_forward_hook(lambda module, args, out: calls.append(module.kind))
    net(torch.rand(1, 3, 8, 8))
    assert calls.count('upsampling') == 1 and len(calls) == 12
    assert [c.kind for c in net.cells].index('upsampling') == 9  # position 10, counted from 1


@pytest.mark.parametrize('position', [1, 3])
def test_cell_after_the_upsampling_cell_gets_its_output_as_both_inputs(position):
    net = HNASNet(dict(PUBLISHED['HNAS_A'].to_dict(), position=position), num_feat=4, num_layers=5)
    seen = {}
    net.cells[position - 1].register_forward_hook(lambda module, args, out: seen.update(up=out))
    net.cells[position].register_forward_hook(lambda module, args, out: seen.update(inputs=args))
    net(torch.rand(1, 3, 6, 6))
    assert seen['inputs'][0] is seen['up'] and seen['inputs'][1] is seen['up']


def test_head_and_cell_input_convs_have_no_bias_as_the_authors():
    net = HNASNet(PUBLISHED['HNAS_B'].to_dict(), num_feat=4)
    assert net.conv_first.bias is None and net.conv_last.bias is not None
    assert all(cell.inputs.pre0[1].bias is None and cell.inputs.pre1[1].bias is None for cell in net.cells)


@pytest.mark.parametrize('position', [1, 5])
def test_any_position_works(position):
    genotype = dict(PUBLISHED['HNAS_B'].to_dict(), position=position)
    net = HNASNet(genotype, num_feat=4, num_layers=5, upscale=3)
    assert net(torch.rand(1, 3, 6, 7)).shape == (1, 3, 18, 21)


def test_builds_through_basicsr_from_written_option_file(tmp_path):
    opt = {'network_g': dict(type='HNASNet', num_feat=4, num_layers=12, upscale=2,
                             genotype=PUBLISHED['HNAS_C'].to_dict())}
    path = tmp_path / 'opt.yml'
    path.write_text(yaml.safe_dump(opt))
    net = build_network(yaml.safe_load(path.read_text())['network_g'])
    assert isinstance(net, HNASNet) and net.genotype == PUBLISHED['HNAS_C']
    assert net(torch.rand(1, 3, 5, 5)).shape == (1, 3, 10, 10)


@pytest.mark.parametrize('kwargs, message', [
    (dict(upscale=5), 'upscale: expected one of 2, 3, 4'),
    (dict(num_feat=0), 'num_feat: expected a positive integer'),
    (dict(num_layers='12'), 'num_layers: expected a positive integer'),
])
def test_bad_arguments_are_rejected_by_name(kwargs, message):
    with pytest.raises(ValueError, match=message):
        HNASNet(PUBLISHED['HNAS_A'].to_dict(), **kwargs)


def test_position_beyond_num_layers_is_rejected():
    with pytest.raises(GenotypeError, match='10 is outside 1..8'):
        HNASNet(PUBLISHED['HNAS_A'].to_dict(), num_layers=8)


def test_gradients_reach_every_parameter():
    net = HNASNet(dict(PUBLISHED['HNAS_B'].to_dict(), position=3), num_feat=4, num_layers=4, upscale=2)
    net(torch.rand(2, 3, 6, 6)).mean().backward()
    assert all(p.grad is not None for p in net.parameters())


def test_global_skip_starts_from_the_interpolated_input():
    net = HNASNet(PUBLISHED['HNAS_A'].to_dict(), num_feat=4, num_layers=12, global_skip='bicubic')
    torch.nn.init.zeros_(net.conv_last.weight)
    torch.nn.init.zeros_(net.conv_last.bias)
    x = torch.rand(1, 3, 6, 5)
    expected = torch.nn.functional.interpolate(x, scale_factor=2, mode='bicubic', align_corners=False)
    assert torch.allclose(net(x), expected, atol=1e-6)


@pytest.mark.parametrize('scale', [2, 3])
@pytest.mark.parametrize('cell_residual', [False, True])
def test_cell_residual_carries_the_head_features_past_cells_that_output_zero(scale, cell_residual):
    net = HNASNet(dict(PUBLISHED['HNAS_B'].to_dict(), position=3), num_feat=4, num_layers=5, upscale=scale,
                  cell_residual=cell_residual)
    for cell in net.cells:  # every cell's own contribution zero: its output is only what the residual adds
        for module in cell.modules():
            if isinstance(module, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
                torch.nn.init.zeros_(module.weight)
                if module.bias is not None:
                    torch.nn.init.zeros_(module.bias)
    seen = {}
    net.conv_first.register_forward_hook(lambda m, args, out: seen.update(head=out))
    net.conv_last.register_forward_hook(lambda m, args, out: seen.update(tail_input=args[0]))
    net(torch.rand(1, 3, 5, 4))
    expected = F.interpolate(seen['head'], scale_factor=scale, mode='nearest') if cell_residual else 0
    assert seen['head'].abs().max() > 0
    assert torch.allclose(seen['tail_input'], expected + torch.zeros_like(seen['tail_input']), atol=1e-5)


def test_cell_residual_must_be_a_boolean():
    with pytest.raises(ValueError, match="cell_residual: expected true or false, got 'yes'"):
        HNASNet(PUBLISHED['HNAS_A'].to_dict(), cell_residual='yes')


def test_unknown_global_skip_is_rejected_by_name():
    with pytest.raises(ValueError, match="global_skip: expected one of None, bilinear, bicubic, got 'lanczos'"):
        HNASNet(PUBLISHED['HNAS_A'].to_dict(), global_skip='lanczos')


@pytest.mark.parametrize('scale', [2, 3, 4])
def test_channels_last_gives_the_output_and_gradients_of_the_contiguous_layout(scale):
    """Every op of the space, at every scale: the cells run channels_last, results equal the NCHW run's."""
    import random

    from hnas_basicsr.nas import space

    rng = random.Random(scale)
    for _ in range(3):
        genotype = space.random_genotype(4, rng).to_dict()
        net = HNASNet(genotype, num_feat=4, num_layers=4, upscale=scale, global_skip='bicubic')
        torch.nn.init.normal_(net.conv_last.weight, std=0.1)  # (LSUV leaves the tail zero: no gradient to compare)
        x = torch.rand(2, 3, 7, 9)
        formats, results = [], []
        for memory_format in (torch.contiguous_format, torch.channels_last):
            net.memory_format = memory_format
            net.zero_grad(set_to_none=True)
            hook = net.cells[1].register_forward_hook(
                lambda module, args, out: formats.append(out.is_contiguous(memory_format=torch.channels_last)))
            out = net(x)
            hook.remove()
            out.square().mean().backward()
            results.append((out.detach(), [p.grad for p in net.parameters()]))  # (None: an unused input conv)
        assert formats == [False, True]
        (out_a, grads_a), (out_b, grads_b) = results
        assert out_b.is_contiguous() and torch.allclose(out_a, out_b, rtol=1e-4, atol=1e-5)
        for a, b in zip(grads_a, grads_b):
            assert (a is None and b is None) or torch.allclose(a, b, rtol=1e-3, atol=1e-5)


def test_node_sum_adds_in_place_only_into_fresh_tensors():
    state = torch.ones(2)
    fresh = torch.full((2,), 2.)
    assert node_sum(fresh, state, [state]) is fresh and fresh.tolist() == [3., 3.]
    out = node_sum(state, fresh, [state])  # an identity edge's output is the state itself: left alone
    assert out is not state and state.tolist() == [1., 1.] and out.tolist() == [4., 4.]
    view = torch.zeros(4)[:2]
    assert node_sum(view, state, [state]) is not view and view.tolist() == [0., 0.]


def test_cell_output_equals_the_sum_of_its_edges_and_leaves_its_inputs_unchanged():
    cell = Cell('normal', PUBLISHED['HNAS_A'].normal, 8, 4, 2)  # identity edges first in two nodes
    s0, s1 = torch.rand(1, 8, 6, 6), torch.rand(1, 8, 6, 6)
    copies = s0.clone(), s1.clone()
    out = cell(s0, s1)
    states = cell.inputs(s0, s1)
    for node, edges in zip(cell.nodes, cell.edges):
        states.append(edges[0](states[node[0][1]]) + edges[1](states[node[1][1]]))
    torch.testing.assert_close(out, torch.cat(states[2:], 1))
    assert torch.equal(s0, copies[0]) and torch.equal(s1, copies[1])


@pytest.mark.parametrize('position', [1, 12])
def test_cells_rectified_once_compute_what_each_cell_rectifying_its_inputs_computes(position):
    net = HNASNet(dict(PUBLISHED['HNAS_B'].to_dict(), position=position), num_feat=4)
    torch.nn.init.normal_(net.conv_last.weight)  # LSUV's zero tail would hide what reaches it
    net.double()  # float64: the two orders of summation agree to far below the tolerance
    x = torch.rand(1, 3, 6, 7, dtype=torch.float64, requires_grad=True)
    out = net(x)
    s0 = s1 = net.head(net.sub_mean(x))
    for cell in net.cells:  # the cells' own input ReLUs on raw outputs, as before
        y = cell(s0, s1)
        s0, s1 = (y, y) if y.shape[-2:] != s1.shape[-2:] else (s1, y)
    reference = net.add_mean(net.conv_last(s1))
    torch.testing.assert_close(out, reference)
    grad, = torch.autograd.grad(out.square().sum(), x)
    torch.testing.assert_close(grad, torch.autograd.grad(reference.square().sum(), x)[0])
