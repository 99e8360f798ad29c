"""Multiply-adds: hand-computed counts, the count_flops.py tool on option files and genotypes, its one-line errors."""
import os
import subprocess
import sys

import pytest
import yaml
from torch import nn

from hnas_basicsr.nas.cost import count_macs, count_params, protocol
from hnas_basicsr.nas.genotype import published_genotypes
from hnas_basicsr.tools import count_flops

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOL = os.path.join(ROOT, 'tools', 'count_flops.py')

# A tiny basicsr EDSR (4 features, 1 residual block, x2) on an 8x8 LR input: 64 LR pixels, 256 HR pixels.
TINY_EDSR = {'type': 'EDSR', 'num_in_ch': 3, 'num_out_ch': 3, 'num_feat': 4, 'num_block': 1, 'upscale': 2}
TINY_EDSR_MACS = (
    64 * 3 * 4 * 9  # conv_first 3 -> 4, 3x3: 6,912
    + 2 * 64 * 4 * 4 * 9  # body: one residual block, two 4 -> 4 3x3 convs: 18,432
    + 64 * 4 * 4 * 9  # conv_after_body: 9,216
    + 64 * 4 * 16 * 9  # upsample: 4 -> 16 3x3 conv, then PixelShuffle(2) (free): 36,864
    + 256 * 4 * 3 * 9)  # conv_last 4 -> 3, 3x3, at 16x16: 27,648
TINY_EDSR_PARAMS = (3 * 4 * 9 + 4) + 2 * (4 * 4 * 9 + 4) + (4 * 4 * 9 + 4) + (4 * 16 * 9 + 16) + (4 * 3 * 9 + 3)


def run(argv, capsys):
    """Run the tool in-process; return (exit status, stdout lines, stderr lines)."""
    status = count_flops.main(argv)
    out, err = capsys.readouterr()
    return status, out.splitlines(), err.splitlines()


def write_options(tmp_path, network_g):
    path = tmp_path / 'options.yml'
    path.write_text(yaml.safe_dump({'name': 'tiny', 'network_g': network_g}))
    return str(path)


def test_count_macs_matches_hand_count():
    net = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1),  # 8x8 out, 3x3x3 per output value: 4 * 64 * 27 = 6,912
        nn.Conv2d(4, 4, 3, padding=1, groups=4),  # depthwise: one 3x3 per output value: 4 * 64 * 9 = 2,304
        nn.ReLU(),  # free
        # transposed conv: every input value meets a 3x3 kernel per output channel: 4 * 64 * 9 * 2 = 4,608
        nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1, output_padding=1),  # -> 2x16x16
        nn.Conv2d(2, 8, 1),  # 1x1 at 16x16: 8 * 256 * 2 = 4,096
        nn.PixelShuffle(2),  # free, -> 2x32x32
        nn.Upsample(scale_factor=2, mode='bilinear'))  # free
    assert count_macs(net, lr_size=(8, 8), in_ch=3) == 6912 + 2304 + 4608 + 4096


def test_tool_prints_hand_count_of_tiny_edsr_options(tmp_path, capsys):
    path = write_options(tmp_path, TINY_EDSR)
    status, out, err = run(['-opt', path, '--lr-size', '8', '8'], capsys)
    assert status == 0 and not err
    assert TINY_EDSR_MACS == 99072 and TINY_EDSR_PARAMS == 1259
    assert out == [
        f'EDSR ({path}: network_g): 0.001 M params (1,259), 0.0 G multiply-adds (99,072)',
        f'  protocol: {protocol((8, 8), 3)}'
    ]


def test_by_module_lists_each_part_of_the_count(tmp_path, capsys):
    argv = ['-opt', write_options(tmp_path, TINY_EDSR), '--lr-size', '8', '8', '--by-module', '1']
    status, out, _ = run(argv, capsys)
    rows = {line.split()[0]: int(line.split('(')[-1].rstrip(')').replace(',', '')) for line in out[2:]}
    assert status == 0
    assert rows == {'conv_first': 6912, 'body': 18432, 'conv_after_body': 9216, 'upsample': 36864, 'conv_last': 27648}
    assert sum(rows.values()) == TINY_EDSR_MACS


def test_edsr_baseline_x2_matches_published_figures(tmp_path, capsys):
    network_g = dict(TINY_EDSR, num_feat=64, num_block=16)
    status, out, _ = run(['-opt', write_options(tmp_path, network_g)], capsys)
    # Per LR pixel: conv_first 3*64*9 + 33 convs 64*64*9 (32 in the body, conv_after_body) + upsample 64*256*9
    # + conv_last 64*3*9 at 4 HR pixels = 1,372,608; times 480 * 480 LR pixels.
    macs = (3 * 64 * 9 + 33 * 64 * 64 * 9 + 64 * 256 * 9 + 4 * 64 * 3 * 9) * 480 * 480
    assert status == 0 and macs == 316_248_883_200
    assert out[0].endswith(': 1.370 M params (1,369,859), 316.2 G multiply-adds (316,248,883,200)')
    assert out[1] == f'  protocol: {protocol((480, 480), 3)}'


@pytest.mark.parametrize('name, expected', [
    ('HNAS_A', '0.974 M params (974,019), 357.3 G'),
    ('HNAS_B', '2.141 M params (2,141,290), 490.7 G'),
    ('HNAS_C', '2.543 M params (2,542,545), 626.8 G'),
])
def test_published_networks_cost_what_the_authors_networks_cost(name, expected, capsys):
    # The authors' retraining networks (C = 64, x2), upsampling cell run once, 3x480x480 LR input.
    status, out, _ = run(['--genotype', name, '--scale', '2'], capsys)
    assert status == 0 and expected in out[0]


def test_genotype_name_and_genotype_file_give_the_same_count(tmp_path, capsys):
    path = tmp_path / 'genotype.yml'
    path.write_text(yaml.safe_dump(published_genotypes()['HNAS_B'].to_dict()))
    argv = ['--num-feat', '8', '--scale', '3', '--lr-size', '16', '16']
    status_name, by_name, _ = run(['--genotype', 'HNAS_B'] + argv, capsys)
    status_file, by_file, _ = run(['--genotype', str(path)] + argv, capsys)
    assert status_name == status_file == 0
    assert by_name[0].startswith('HNASNet HNAS_B x3 (num_feat 8, num_layers 12): ')
    assert by_name[0].split(': ', 1)[1] == by_file[0].split(': ', 1)[1]


def test_genotype_mode_counts_the_network_it_builds(capsys):
    from hnas_basicsr.archs.hnas_arch import HNASNet
    net = HNASNet(published_genotypes()['HNAS_A'].to_dict(), num_feat=8, upscale=4)
    status, out, _ = run(['--genotype', 'HNAS_A', '--num-feat', '8', '--scale', '4', '--lr-size', '12', '10'], capsys)
    assert status == 0
    assert f'({count_params(net):,}), ' in out[0]
    assert out[0].endswith(f'({count_macs(net, (12, 10)):,})')


def test_shipped_hnas_options_and_genotype_mode_agree(capsys):
    path = os.path.join(ROOT, 'options', 'train', 'HNAS', 'train_HNAS_C_x3.yml')
    _, from_options, _ = run(['-opt', path, '--lr-size', '8', '8'], capsys)
    _, from_genotype, _ = run(['--genotype', 'HNAS_C', '--scale', '3', '--lr-size', '8', '8'], capsys)
    assert from_options[0].split('): ', 1)[1] == from_genotype[0].split('): ', 1)[1]


@pytest.mark.parametrize(
    'argv, message',
    [
        (['-opt', 'no/such/options.yml'], 'no/such/options.yml: cannot read (No such file or directory)'),
        (['--genotype', 'HNAS_Z'], 'neither a published genotype (HNAS_A, HNAS_B, HNAS_C) nor a file'),
        (['--genotype', 'HNAS_A', '--num-layers', '8'], 'genotype.position: 10 is outside 1..8'),
    ],
    ids=['missing file', 'unknown genotype name', 'bad genotype'])
def test_errors_are_one_line_with_status_2(argv, message, capsys):
    status, out, err = run(argv, capsys)
    assert status == 2 and not out
    assert len(err) == 1 and err[0].startswith('count_flops.py: error: ') and message in err[0]


def test_unknown_arch_type_is_one_line_with_status_2(tmp_path, capsys):
    status, _, err = run(['-opt', write_options(tmp_path, {'type': 'NoSuchArch', 'num_feat': 4})], capsys)
    assert status == 2
    assert len(err) == 1 and "unknown arch type 'NoSuchArch'" in err[0]


def test_missing_network_key_names_the_networks_present(tmp_path, capsys):
    status, _, err = run(['-opt', write_options(tmp_path, TINY_EDSR), '--network', 'network_d'], capsys)
    assert status == 2
    path = tmp_path / 'options.yml'
    assert err == [f'count_flops.py: error: {path}: no network_d in the options (networks: network_g)']


def test_command_line_error_has_no_traceback(tmp_path):
    result = subprocess.run([sys.executable, TOOL, '-opt', str(tmp_path / 'missing.yml')],
                            capture_output=True,
                            text=True,
                            cwd=tmp_path)
    assert result.returncode == 2 and not result.stdout
    assert result.stderr.splitlines() == [f'count_flops.py: error: {tmp_path / "missing.yml"}: cannot read '
                                          '(No such file or directory)']
