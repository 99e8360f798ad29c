"""ONNX export: HNASNet (every op, x2 x3 x4, global skip, cell residual), basicsr's EDSR and RCAN and GlobalSkipWrapper
run in onnxruntime as in PyTorch at two input sizes; the ops rewritten for ONNX equal their old formulation; the
export_onnx.py tool and its one-line errors."""
import os
import random
import subprocess
import sys

import numpy as np
import onnxruntime
import pytest
import torch
import yaml
from torch import nn
from torch.nn import functional as F

from hnas_basicsr.archs.hnas_arch import HNASNet
from hnas_basicsr.cli import ToolError
from hnas_basicsr.nas.genotype import published_genotypes
from hnas_basicsr.nas.operations import build_op
from hnas_basicsr.nas.space import NORMAL_OPS, SCALES, UPSAMPLING_OPS, random_genotype
from hnas_basicsr.networks import build
from hnas_basicsr.tools import export_onnx

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOL = os.path.join(ROOT, 'tools', 'export_onnx.py')
SIZES = ((1, 3, 20, 24), (1, 3, 33, 17))  # neither is the traced size
PUBLISHED = [('HNAS_A', 2), ('HNAS_B', 3), ('HNAS_C', 4)]
# Random genotypes (num_layers 3) whose normal cell holds every normal op and whose upsampling edges from the cell
# inputs hold every upsampling op: each op at each scale, the upsampling cell first, second and last.
RANDOM = [(2142, 2, 'bicubic'), (2124, 3, 'bilinear'), (620, 4, None)]
TINY_EDSR = {'type': 'EDSR', 'num_in_ch': 3, 'num_out_ch': 3, 'num_feat': 8, 'num_block': 1, 'upscale': 2}
BASICSR = {
    'EDSR': dict(TINY_EDSR, num_block=2, upscale=3),
    'RCAN': {'type': 'RCAN', 'num_in_ch': 3, 'num_out_ch': 3, 'num_feat': 8, 'num_group': 2, 'num_block': 2,
             'squeeze_factor': 4, 'upscale': 4},
    'GlobalSkipWrapper': {'type': 'GlobalSkipWrapper', 'network': TINY_EDSR, 'global_skip': 'bicubic'},
}


def max_abs_diffs(net, path):
    """Max abs difference between ``net`` and the ONNX file in onnxruntime, per input size of SIZES."""
    session = onnxruntime.InferenceSession(path, providers=['CPUExecutionProvider'])
    diffs = []
    for shape in SIZES:
        x = torch.rand(*shape)
        with torch.no_grad():
            expected = net(x).numpy()
        got = session.run(None, {'lq': x.numpy()})[0]
        assert got.shape == expected.shape
        diffs.append(float(np.abs(got - expected).max()))
    return diffs


def export_and_compare(net, tmp_path):
    path = str(tmp_path / 'net.onnx')
    export_onnx.export(net, path)
    assert max(max_abs_diffs(net, path)) < 1e-4


def with_random_tail(net):
    """``net`` with a random tail conv. LSUV zeroes the tail, which makes the output the mean image (or the skip)
    whatever the cells compute; from the cells' unit-std features this tail gives an output of std ~0.25."""
    fan_in = net.conv_last.weight[0].numel()
    nn.init.normal_(net.conv_last.weight, std=0.25 * net.hparams['img_range'] / fan_in**0.5)
    with torch.no_grad():
        assert net(torch.rand(*SIZES[0])).std() > 0.1
    return net


def random_network(seed, scale, global_skip):
    genotype = random_genotype(3, random.Random(seed))
    return with_random_tail(HNASNet(genotype.to_dict(), num_feat=8, num_layers=3, upscale=scale,
                                    global_skip=global_skip, cell_residual=True))


def published_network(name, scale):
    """A published genotype in 4 layers instead of 12: the upsampling cell has as many cells after it."""
    genotype = published_genotypes()[name].to_dict()
    genotype['position'] -= 8
    return with_random_tail(HNASNet(genotype, num_feat=8, num_layers=4, upscale=scale))


def write_options(tmp_path, network_g, **extra):
    path = tmp_path / 'options.yml'
    path.write_text(yaml.safe_dump({'name': 'tiny', 'network_g': network_g, **extra}))
    return str(path)


def run(argv, capsys):
    """Run the tool in-process; return (exit status, stdout lines, stderr lines)."""
    status = export_onnx.main(argv)
    out, err = capsys.readouterr()
    return status, out.splitlines(), err.splitlines()


@pytest.mark.parametrize('memory_format', [torch.contiguous_format, torch.channels_last])
@pytest.mark.parametrize('scale', SCALES)
def test_area_upsampling_runs_as_nearest_with_the_output_and_gradients_of_area(scale, memory_format):
    op = build_op('upsampling', 'area', 4, scale)
    for height, width in ((1, 1), (7, 9), (33, 17), (120, 97)):
        x = torch.randn(2, 4, height, width).contiguous(memory_format=memory_format).requires_grad_()
        x_old = x.detach().clone().requires_grad_()
        y, y_old = op(x), F.interpolate(x_old, scale_factor=scale, mode='area')
        assert torch.equal(y, y_old)
        weight = torch.randn_like(y)
        (y * weight).sum().backward()
        (y_old * weight).sum().backward()
        assert torch.equal(x.grad, x_old.grad)


@pytest.mark.parametrize('scale', SCALES)
def test_cell_residual_upsampling_by_the_scale_equals_upsampling_to_the_output_size(scale):
    """The residual of the upsampling cell: nearest by the scale (now) and to its output's size (before) agree,
    since every upsampling cell's output is exactly scale times its input (tests/test_operations.py)."""
    for height, width in ((1, 1), (7, 9), (33, 17), (120, 97)):
        s1 = torch.randn(2, 4, height, width).contiguous(memory_format=torch.channels_last)
        before = F.interpolate(s1, size=(scale * height, scale * width), mode='nearest')
        assert torch.equal(F.interpolate(s1, scale_factor=scale, mode='nearest'), before)


def test_random_genotypes_hold_every_op_at_every_scale():
    genotypes = {scale: random_genotype(3, random.Random(seed)) for seed, scale, _ in RANDOM}
    assert sorted(genotypes) == list(SCALES)
    for genotype in genotypes.values():
        assert {op for node in genotype.normal for op, _ in node} == set(NORMAL_OPS)
        assert {op for node in genotype.upsampling for op, source in node if source < 2} == set(UPSAMPLING_OPS)
    assert sorted(genotype.position for genotype in genotypes.values()) == [1, 2, 3]


@pytest.mark.parametrize('seed, scale, global_skip', RANDOM, ids=[f'x{s}' for _, s, _ in RANDOM])
def test_random_hnas_network_runs_in_onnxruntime_as_in_pytorch(seed, scale, global_skip, tmp_path):
    export_and_compare(random_network(seed, scale, global_skip), tmp_path)


@pytest.mark.parametrize('name, scale', PUBLISHED, ids=[name for name, _ in PUBLISHED])
def test_published_network_runs_in_onnxruntime_as_in_pytorch(name, scale, tmp_path):
    export_and_compare(published_network(name, scale), tmp_path)


@pytest.mark.parametrize('name', BASICSR)
def test_basicsr_network_runs_in_onnxruntime_as_in_pytorch(name, tmp_path):
    export_and_compare(build(BASICSR[name], name), tmp_path)


def test_tool_exports_the_options_weights_to_results(tmp_path, monkeypatch, capsys):
    net = build(TINY_EDSR, 'tiny')
    torch.save({'params': net.state_dict()}, tmp_path / 'net_g.pth')
    options = write_options(tmp_path, TINY_EDSR, path={'pretrain_network_g': 'net_g.pth'})
    monkeypatch.setenv('HNAS_ROOT', str(tmp_path))  # a relative checkpoint path and results/ are under the root
    status, out, err = run(['-opt', options], capsys)
    path = tmp_path / 'results' / 'tiny.onnx'
    assert status == 0 and not err
    assert out[0].startswith(f'export_onnx.py: wrote {path} (')
    assert out[1] == '  opset 20: lq [batch, 3, height, width] -> output [batch, 3, 2*height, 2*width]'
    assert 'random 1x3x33x17 input in 0..1: max abs difference ' in out[2]
    assert max(max_abs_diffs(net.eval(), str(path))) < 1e-4  # the checkpoint's weights, not a new initialisation


def test_command_line_exports_the_initialisation_with_a_warning(tmp_path):
    options = write_options(tmp_path, TINY_EDSR)
    result = subprocess.run([sys.executable, TOOL, '-opt', options, '--out', 'tiny.onnx', '--opset', '18'],
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.splitlines()[1].startswith('  opset 18: lq [batch, 3, height, width]')
    assert result.stderr.splitlines() == [f'export_onnx.py: warning: exported the initialisation: no --weights and '
                                          f'no path.pretrain_network_g in {options}']
    assert os.path.getsize(tmp_path / 'tiny.onnx') > 0


@pytest.mark.parametrize('case, message', [
    ('missing file', 'no/such/options.yml: cannot read (No such file or directory)'),
    ('not a mapping', 'options.yml: expected a mapping of options, got list'),
    ('unknown arch', "network_g: unknown arch type 'NoSuchArch'"),
    ('no network', 'options.yml: no network_d mapping in the options (networks: network_g)'),
    ('missing weights', 'missing.pth: checkpoint not found'),
    ('wrong weights', 'net_g.pth: does not fit this EDSR: '),
])
def test_bad_input_is_one_line_with_status_2(case, message, tmp_path, capsys):
    argv = ['-opt', write_options(tmp_path, TINY_EDSR), '--out', str(tmp_path / 'x.onnx')]
    if case == 'missing file':
        argv[1] = 'no/such/options.yml'
    elif case == 'not a mapping':
        (tmp_path / 'options.yml').write_text('- network_g\n')
    elif case == 'unknown arch':
        argv[1] = write_options(tmp_path, {'type': 'NoSuchArch', 'num_feat': 4})
    elif case == 'no network':
        argv += ['--network', 'network_d']
    elif case == 'missing weights':
        argv += ['--weights', str(tmp_path / 'missing.pth')]
    else:
        torch.save({'params': build(dict(TINY_EDSR, num_feat=4), 'tiny').state_dict()}, tmp_path / 'net_g.pth')
        argv[1] = write_options(tmp_path, TINY_EDSR, path={'pretrain_network_g': str(tmp_path / 'net_g.pth')})
    status, out, err = run(argv, capsys)
    assert status == 2 and not out
    assert len(err) == 1 and err[0].startswith('export_onnx.py: error: ') and message in err[0]
    assert not os.path.exists(tmp_path / 'x.onnx')


def test_opset_torch_cannot_convert_to_is_refused(tmp_path, capsys):
    status, _, err = run(['-opt', write_options(tmp_path, TINY_EDSR), '--out', str(tmp_path / 'x.onnx'), '--opset',
                          '13'], capsys)
    assert status == 2
    assert len(err) == 1 and '--opset 13: torch.onnx ' in err[0] and 'cannot convert to it' in err[0]
    assert sorted(os.listdir(tmp_path)) == ['options.yml']


class DataDependent(nn.Module):
    """A branch on the input's values: torch.export cannot trace it."""

    def forward(self, x):
        return x * 2 if x.mean() > 0.5 else x


def test_network_onnx_cannot_export_is_a_tool_error(tmp_path):
    with pytest.raises(ToolError, match=r'^DataDependent: ONNX cannot export it with dynamic batch, '
                       r'height and width: .+') as error:
        export_onnx.export(DataDependent(), str(tmp_path / 'x.onnx'))
    assert '\n' not in str(error.value)
