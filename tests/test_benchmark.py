"""tools/benchmark.py and hnas_basicsr.benchmark: table, CSV and plot; bicubic and basicsr agreement; tiling; errors."""
import csv
import os
import re
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
import yaml
from basicsr.archs.edsr_arch import EDSR
from basicsr.metrics import calculate_psnr
from basicsr.utils.matlab_functions import imresize

from hnas_basicsr.archs.hnas_arch import HNASNet
from hnas_basicsr.benchmark import forward_tiled
from hnas_basicsr.nas.genotype import published_genotypes
from synthetic import synthetic_image
from tool_modules import load_tool

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_SET5 = os.path.join(REPO, os.pardir, 'shared', 'datasets', 'test', 'Set5')


prepare_data, benchmark = load_tool('prepare_data'), load_tool('benchmark')
EDSR_OPT = {'type': 'EDSR', 'num_in_ch': 3, 'num_out_ch': 3, 'num_feat': 8, 'num_block': 2, 'upscale': 2}
HNAS_OPT = {'type': 'HNASNet', 'genotype': published_genotypes()['HNAS_C'].to_dict(), 'num_feat': 4, 'upscale': 2}


def write_model(folder, name, net_opt, net, checkpoint=True):
    """An option file (and, if ``checkpoint``, the weights it names) for a model under ``folder``."""
    weights = os.path.join(folder, f'{name}.pth')
    if checkpoint:
        torch.save({'params': net.state_dict()}, weights)
    opt = {'name': f'test_{name}', 'scale': 2, 'network_g': net_opt,
           'path': {'pretrain_network_g': weights if checkpoint else None}}
    path = os.path.join(folder, f'{name}.yml')
    with open(path, 'w') as f:
        yaml.safe_dump(opt, f)
    return path


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    """Two tiny prepared test sets (x2 only) and two tiny models with random weights."""
    tmp = tmp_path_factory.mktemp('bench')
    rng = np.random.default_rng(0)
    sets = []
    for name, count in (('tinyA', 2), ('tinyB', 3)):
        src = tmp / f'{name}_hr'
        src.mkdir()
        for i in range(count):
            cv2.imwrite(str(src / f'im{i}.png'), synthetic_image(rng, 48, 60))
        assert prepare_data.main([str(src), '--out', str(tmp / name), '--no-sub-images', '--scales', '2']) == 0
        sets.append(str(tmp / name))
    torch.manual_seed(0)
    models = [write_model(str(tmp), 'edsr', EDSR_OPT, EDSR(**{k: v for k, v in EDSR_OPT.items() if k != 'type'})),
              write_model(str(tmp), 'hnas', HNAS_OPT, HNASNet(**{k: v for k, v in HNAS_OPT.items() if k != 'type'}))]
    return tmp, sets, models


def read_csv(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_table_csv_and_plot_for_two_models_on_two_sets(setup, capsys):
    tmp, sets, models = setup
    out = tmp / 'out'
    assert benchmark.main(['-opt', *models, '--sets', *sets, '--out', str(out), '--runs', '1']) == 0
    rows = read_csv(out / 'benchmark.csv')
    assert [r['Model'] for r in rows] == ['Bicubic', 'edsr', 'hnas']
    for r in rows[1:]:
        assert float(r['Mult-Adds (G)']) > 0 and float(r['Params (M)']) > 0
        for name in ('tinyA', 'tinyB'):
            assert 0 < float(r[f'{name} PSNR']) < 60 and 0 < float(r[f'{name} SSIM']) <= 1
            assert float(r[f'{name} ms/img']) > 0
    table = (out / 'benchmark.md').read_text()
    assert table.splitlines()[0].startswith('| Scale | Model | Mult-Adds (G) | Params (M) | tinyA PSNR/SSIM')
    assert len([line for line in table.splitlines() if line.startswith('| x2 |')]) == 3
    assert 'multiply-adds for one 3x480x480 LR input' in table
    png = cv2.imread(str(out / 'psnr_vs_macs.png'))
    assert png is not None and png.shape[0] > 100


def test_bicubic_row_equals_basicsr_calculate_psnr_of_matlab_bicubic(setup):
    tmp, sets, models = setup
    out = tmp / 'out_bicubic'
    assert benchmark.main(['-opt', models[0], '--sets', *sets, '--out', str(out), '--runs', '1']) == 0
    row = read_csv(out / 'benchmark.csv')[0]
    for folder in sets:
        psnrs = []
        for name in sorted(os.listdir(os.path.join(folder, 'GTmod12'))):
            gt = cv2.imread(os.path.join(folder, 'GTmod12', name))
            lq = cv2.imread(os.path.join(folder, 'LRbicx2', name)).astype(np.float32) / 255.
            sr = np.clip(np.round(imresize(lq, 2) * 255.), 0, 255).astype(np.uint8)
            psnrs.append(calculate_psnr(sr, gt, crop_border=2, test_y_channel=True))
        assert float(row[f'{os.path.basename(folder)} PSNR']) == pytest.approx(np.mean(psnrs), abs=1e-4)


def test_psnr_matches_basicsr_test_pipeline_for_edsr_on_set5(tmp_path):
    """Same weights, same Set5 files: the tool and ``hnas_basicsr/test.py`` (basicsr's pipeline) agree to 0.01 dB."""
    set5 = tmp_path / 'Set5'
    assert prepare_data.main([SHARED_SET5, '--out', str(set5), '--no-sub-images', '--scales', '2']) == 0
    torch.manual_seed(1)
    net = EDSR(3, 3, 8, 2, 2)
    model = write_model(str(tmp_path), 'edsr', EDSR_OPT, net)
    opt = yaml.safe_load(open(model))
    opt.update(model_type='SRModel', num_gpu=0, datasets={'test_1': {
        'name': 'Set5', 'type': 'PairedImageDataset', 'dataroot_gt': str(set5 / 'GTmod12'),
        'dataroot_lq': str(set5 / 'LRbicx2'), 'io_backend': {'type': 'disk'}}},
        val={'save_img': False, 'metrics': {'psnr': {'type': 'calculate_psnr', 'crop_border': 2,
                                                     'test_y_channel': True}}})
    with open(model, 'w') as f:
        yaml.safe_dump(opt, f)
    env = dict(os.environ, HNAS_ROOT=str(tmp_path))
    done = subprocess.run([sys.executable, os.path.join(REPO, 'hnas_basicsr', 'test.py'), '-opt', model],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    log = open(next((tmp_path / 'results' / 'test_edsr').glob('test_test_edsr_*.log'))).read()
    basicsr_psnr = float(re.search(r'# psnr: ([\d.]+)', log).group(1))
    assert benchmark.main(['-opt', model, '--sets', str(set5), '--out', str(tmp_path / 'out'), '--runs', '1']) == 0
    bicubic, ours = (float(row['Set5 PSNR']) for row in read_csv(tmp_path / 'out' / 'benchmark.csv'))
    assert bicubic == pytest.approx(33.66, abs=0.01)  # the published bicubic Set5 x2 PSNR
    assert ours == pytest.approx(basicsr_psnr, abs=0.01)


@pytest.mark.parametrize('net_opt, min_psnr', [(EDSR_OPT, 100.), (HNAS_OPT, 50.)])
def test_tiled_inference_matches_whole_image(net_opt, min_psnr):
    """A 70x90 LR image in 32 px tiles with 16 px of context. EDSR (receptive field < 16 px) matches up to
    float rounding; HNAS-C has RCAB's global pooling, so its tiles see different statistics: PSNR > 50 dB."""
    torch.manual_seed(0)
    net = (EDSR if net_opt is EDSR_OPT else HNASNet)(**{k: v for k, v in net_opt.items() if k != 'type'}).eval()
    lq = torch.rand(1, 3, 70, 90)
    with torch.no_grad():
        whole = net(lq).clamp(0, 1)
    tiled = forward_tiled(net, lq, 2, 32, 16).clamp(0, 1)
    mse = torch.mean((whole - tiled)**2).item()
    psnr = float('inf') if mse == 0 else 10 * np.log10(1 / mse)
    assert tiled.shape == whole.shape and psnr > min_psnr
    with torch.no_grad():
        assert torch.equal(forward_tiled(net, lq, 2, 0, 16), net(lq))  # tile 0: the whole image at once


def test_errors_are_one_line(setup, tmp_path, capsys):
    tmp, sets, models = setup
    no_weights = write_model(str(tmp_path), 'nockpt', EDSR_OPT, None, checkpoint=False)
    x3 = dict(EDSR_OPT, upscale=3)
    wrong_scale = write_model(str(tmp_path), 'x3', x3, EDSR(3, 3, 8, 2, 3))
    other_arch = write_model(str(tmp_path), 'other', HNAS_OPT, None, checkpoint=False)
    with open(other_arch) as f:
        opt = yaml.safe_load(f)
    opt['path']['pretrain_network_g'] = str(tmp / 'edsr.pth')
    with open(other_arch, 'w') as f:
        yaml.safe_dump(opt, f)
    cases = [
        (['-opt', no_weights, '--sets', sets[0]], 'no checkpoint: path.pretrain_network_g is not set'),
        (['-opt', models[0], '--sets', str(tmp_path / 'missing')], 'test set folder not found'),
        (['-opt', wrong_scale, '--sets', sets[0]], 'wrong scale: no LRbicx3/'),
        (['-opt', models[0], wrong_scale, '--sets', sets[0]], 'wrong scale: the network upsamples x3'),
        (['-opt', other_arch, '--sets', sets[0]], 'does not fit this HNASNet'),
    ]
    for argv, expected in cases:
        out = tmp_path / 'never'
        assert benchmark.main(argv + ['--out', str(out)]) == 2
        err = capsys.readouterr().err
        assert err.startswith('benchmark.py: error: ') and expected in err and err.count('\n') == 1, err
        assert not out.exists()
