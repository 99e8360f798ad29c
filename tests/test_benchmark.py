"""hnas_basicsr.tools.benchmark (tools/benchmark.py) and hnas_basicsr.benchmark: table, CSV and plot; the published
bicubic rows; basicsr agreement; tiling; errors."""
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

from hnas_basicsr.archs.hnas_arch import HNASNet
from hnas_basicsr.benchmark import forward_tiled, load_hr, pairs_at
from hnas_basicsr.images import imresize_uint8
from hnas_basicsr.nas.genotype import published_genotypes
from hnas_basicsr.tools import benchmark, prepare_data
from synthetic import synthetic_image

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_TEST = os.path.join(REPO, os.pardir, 'shared', 'datasets', 'test')
SHARED_SET5 = os.path.join(SHARED_TEST, 'Set5')
# The bicubic rows of the published tables (e.g. VDSR's, RCAN's): PSNR / SSIM at x2, x3, x4
PUBLISHED_BICUBIC = {'Set5': ((33.66, 0.9299), (30.39, 0.8682), (28.42, 0.8104)),
                     'Set14': ((30.24, 0.8688), (27.55, 0.7742), (26.00, 0.7027))}


EDSR_OPT = {'type': 'EDSR', 'num_in_ch': 3, 'num_out_ch': 3, 'num_feat': 8, 'num_block': 2, 'upscale': 2}
EDSR_X3_OPT = dict(EDSR_OPT, upscale=3)
HNAS_OPT = {'type': 'HNASNet', 'genotype': published_genotypes()['HNAS_C'].to_dict(), 'num_feat': 4, 'upscale': 2}


def write_model(folder, name, net_opt, net, checkpoint=True):
    """An option file (and, if ``checkpoint``, the weights it names) for a model under ``folder``."""
    weights = os.path.join(folder, f'{name}.pth')
    if checkpoint:
        torch.save({'params': net.state_dict()}, weights)
    opt = {'name': f'test_{name}', 'scale': net_opt['upscale'], 'network_g': net_opt,
           'path': {'pretrain_network_g': weights if checkpoint else None}}
    path = os.path.join(folder, f'{name}.yml')
    with open(path, 'w') as f:
        yaml.safe_dump(opt, f)
    return path


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    """Two tiny prepared test sets and three tiny models with random weights (x2, x2, x3)."""
    tmp = tmp_path_factory.mktemp('bench')
    rng = np.random.default_rng(0)
    sets = []
    for name, count in (('tinyA', 2), ('tinyB', 3)):
        src = tmp / f'{name}_hr'
        src.mkdir()
        for i in range(count):
            cv2.imwrite(str(src / f'im{i}.png'), synthetic_image(rng, 50, 62))
        assert prepare_data.main([str(src), '--out', str(tmp / name), '--no-sub-images', '--scales', '2']) == 0
        sets.append(str(tmp / name))
    torch.manual_seed(0)
    models = [write_model(str(tmp), 'edsr', EDSR_OPT, EDSR(**{k: v for k, v in EDSR_OPT.items() if k != 'type'})),
              write_model(str(tmp), 'hnas', HNAS_OPT, HNASNet(**{k: v for k, v in HNAS_OPT.items() if k != 'type'})),
              write_model(str(tmp), 'edsr_x3', EDSR_X3_OPT, EDSR(3, 3, 8, 2, 3))]
    return tmp, sets, models


def read_csv(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_one_table_for_models_of_two_scales_on_two_sets(setup):
    tmp, sets, models = setup
    out = tmp / 'out'
    assert benchmark.main(['-opt', *models, '--sets', *sets, '--out', str(out), '--runs', '3']) == 0
    rows = read_csv(out / 'benchmark.csv')
    assert [(r['Scale'], r['Model']) for r in rows] == [('2', 'Bicubic'), ('2', 'edsr'), ('2', 'hnas'),
                                                         ('3', 'Bicubic'), ('3', 'edsr_x3')]
    for r in rows:
        for name in ('tinyA', 'tinyB'):
            assert 0 < float(r[f'{name} PSNR']) < 60 and 0 < float(r[f'{name} SSIM']) <= 1
            if r['Model'] != 'Bicubic':
                assert float(r['Mult-Adds (G)']) > 0 and float(r['Params (M)']) > 0
                low, mid, high = (float(r[f'{name} ms/img{k}']) for k in (' min', '', ' max'))
                assert 0 < low <= mid <= high
    table = (out / 'benchmark.md').read_text()
    assert table.splitlines()[0].startswith('| Scale | Model | Mult-Adds (G) | Params (M) | tinyA PSNR/SSIM')
    assert [line.split(' | ')[0] for line in table.splitlines() if line.startswith('| x')] == ['| x2'] * 3 + ['| x3'] * 2
    assert 'multiply-adds for one 3x480x480 LR input' in table and 'median (min-max) over the runs' in table
    png = cv2.imread(str(out / 'psnr_vs_macs.png'))
    assert png is not None and png.shape[0] > 100


def test_compiled_networks_score_as_the_eager_ones(setup):
    tmp, sets, models = setup
    rows = {}
    for flags in ([], ['--compile']):
        out = tmp / f'out_compiled{len(flags)}'
        assert benchmark.main(['-opt', models[1], '--sets', *sets, '--out', str(out), '--runs', '1', *flags]) == 0
        rows[bool(flags)] = read_csv(out / 'benchmark.csv')[1]
        assert ('torch.compiled' in (out / 'benchmark.md').read_text()) == bool(flags)
    assert rows[True]['Model'] == 'hnas'
    for name in ('tinyA', 'tinyB'):
        assert float(rows[True][f'{name} PSNR']) == pytest.approx(float(rows[False][f'{name} PSNR']), abs=1e-3)


def test_reuse_keeps_the_rows_of_models_whose_checkpoint_is_older_than_the_table(setup):
    tmp, sets, models = setup
    out = tmp / 'out_reuse'
    args = ['-opt', *models[:2], '--sets', *sets, '--out', str(out), '--runs', '1']
    assert benchmark.main(args) == 0
    first = read_csv(out / 'benchmark.csv')
    marked = [dict(r, **{'tinyA PSNR': '12.3456'}) if r['Model'] != 'Bicubic' else r for r in first]
    with open(out / 'benchmark.csv', 'w', newline='') as f:  # a mark that only a kept row carries on
        writer = csv.DictWriter(f, fieldnames=list(first[0]))
        writer.writeheader()
        writer.writerows(marked)
    written = os.path.getmtime(out / 'benchmark.csv')
    edsr_weights = tmp / 'edsr.pth'
    os.utime(edsr_weights, (written + 10, written + 10))  # edsr retrained since: scored again
    try:
        assert benchmark.main(args + ['--reuse']) == 0
    finally:
        os.utime(edsr_weights, (written - 10, written - 10))
    rows = {r['Model']: r for r in read_csv(out / 'benchmark.csv')}
    assert rows['hnas']['tinyA PSNR'] == '12.3456' and rows['hnas']['tinyB PSNR'] == first[2]['tinyB PSNR']
    assert rows['edsr']['tinyA PSNR'] == first[1]['tinyA PSNR'] != '12.3456'
    assert 'Rows kept from an earlier run of this table (`--reuse`; their latency was measured then): hnas.' in \
        (out / 'benchmark.md').read_text()
    assert benchmark.main(args) == 0  # without --reuse every model is scored
    assert [r['tinyA PSNR'] for r in read_csv(out / 'benchmark.csv')] == [r['tinyA PSNR'] for r in first]


def test_without_models_the_table_is_the_bicubic_rows_of_every_scale(setup):
    tmp, sets, _ = setup
    out = tmp / 'out_bicubic'
    assert benchmark.main(['--sets', sets[0], '--out', str(out)]) == 0
    rows = read_csv(out / 'benchmark.csv')
    assert [(r['Scale'], r['Model']) for r in rows] == [(s, 'Bicubic') for s in ('2', '3', '4')]
    assert len({r['tinyA PSNR'] for r in rows}) == 3


def test_ground_truth_is_cropped_to_a_multiple_of_the_scale_and_lr_made_from_that_crop(setup):
    _, sets, _ = setup
    images = load_hr(sets[0])  # 50x62 images
    for scale, shape in ((2, (50, 62)), (3, (48, 60)), (4, (48, 60))):
        for _, gt, lq, gray in pairs_at('tinyA', images, scale).pairs:
            assert gt.shape[:2] == shape and not gray
            np.testing.assert_array_equal(lq, imresize_uint8(gt, 1 / scale))


def test_a_prepared_set_and_its_hr_folder_give_the_same_rows(setup):
    tmp, sets, _ = setup
    rows = []
    for folder in (sets[1], os.path.join(sets[1], 'HR')):
        out = tmp / f'out_{len(rows)}'
        assert benchmark.main(['--sets', folder, '--scales', '3', '--out', str(out)]) == 0
        rows.append(read_csv(out / 'benchmark.csv')[0])
    assert rows[0]['tinyB PSNR'] == rows[1]['HR PSNR'] and rows[0]['tinyB SSIM'] == rows[1]['HR SSIM']


def test_bicubic_rows_of_set5_and_set14_are_the_published_ones(tmp_path):
    """From the HR images in ../shared/datasets/test: PSNR within 0.02 dB, SSIM within 0.0005 at x2, x3, x4."""
    sets = [os.path.join(SHARED_TEST, name) for name in PUBLISHED_BICUBIC]
    assert benchmark.main(['--sets', *sets, '--scales', '2', '3', '4', '--out', str(tmp_path)]) == 0
    rows = read_csv(tmp_path / 'benchmark.csv')
    for name, published in PUBLISHED_BICUBIC.items():
        for row, (psnr, ssim) in zip(rows, published):
            assert float(row[f'{name} PSNR']) == pytest.approx(psnr, abs=0.02), (name, row['Scale'])
            assert float(row[f'{name} SSIM']) == pytest.approx(ssim, abs=0.0005), (name, row['Scale'])
    assert 'Set14: 1 of 14 (bridge)' in (tmp_path / 'benchmark.md').read_text()


def test_psnr_matches_basicsr_test_pipeline_for_edsr_on_set5(tmp_path):
    """Same weights, same Set5 pairs (mod-2 GT and its LR): the tool and ``hnas_basicsr/test.py`` (basicsr's
    pipeline, float Y) agree to 0.01 dB; rounding Y to 8 bits is the only difference in the scores."""
    set5 = tmp_path / 'Set5'
    for folder in ('GT', 'LR'):
        (set5 / folder).mkdir(parents=True)
    for name, gt, lq, _ in pairs_at('Set5', load_hr(SHARED_SET5), 2).pairs:
        cv2.imwrite(str(set5 / 'GT' / f'{name}.png'), gt)
        cv2.imwrite(str(set5 / 'LR' / f'{name}.png'), lq)
    torch.manual_seed(1)
    net = EDSR(3, 3, 8, 2, 2)
    model = write_model(str(tmp_path), 'edsr', EDSR_OPT, net)
    opt = yaml.safe_load(open(model))
    opt.update(model_type='SRModel', num_gpu=0, datasets={'test_1': {
        'name': 'Set5', 'type': 'PairedImageDataset', 'dataroot_gt': str(set5 / 'GT'),
        'dataroot_lq': str(set5 / 'LR'), 'io_backend': {'type': 'disk'}}},
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
    assert benchmark.main(['-opt', model, '--sets', SHARED_SET5, '--out', str(tmp_path / 'out'), '--runs', '1']) == 0
    ours = float(read_csv(tmp_path / 'out' / 'benchmark.csv')[1]['Set5 PSNR'])
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
    other_arch = write_model(str(tmp_path), 'other', HNAS_OPT, None, checkpoint=False)
    with open(other_arch) as f:
        opt = yaml.safe_load(f)
    opt['path']['pretrain_network_g'] = str(tmp / 'edsr.pth')
    with open(other_arch, 'w') as f:
        yaml.safe_dump(opt, f)
    (tmp_path / 'empty').mkdir()
    cases = [
        (['-opt', no_weights, '--sets', sets[0]], 'no checkpoint: path.pretrain_network_g is not set'),
        (['-opt', models[0], '--sets', str(tmp_path / 'missing')], 'test set folder not found'),
        (['--sets', str(tmp_path / 'empty')], 'no HR images (in it or in HR/'),
        (['--sets', sets[0], os.path.join(sets[0], 'HR', os.pardir)], 'two folders have the same name'),
        (['-opt', models[0], models[2], '--sets', sets[0], '--scales', '2'],
         'wrong scale: the network upsamples x3, --scales is 2'),
        (['-opt', other_arch, '--sets', sets[0]], 'does not fit this HNASNet'),
        (['--sets', sets[0], '--latency-table', str(tmp_path / 'none.yml')], 'none.yml: No such file'),
        (['--sets', sets[0], '--latency-table', models[0]], 'not a latency table (missing'),
    ]
    for argv, expected in cases:
        out = tmp_path / 'never'
        assert benchmark.main(argv + ['--out', str(out)]) == 2
        err = capsys.readouterr().err
        assert err.startswith('benchmark.py: error: ') and expected in err and err.count('\n') == 1, err
        assert not out.exists()


def test_a_latency_table_adds_predicted_beside_measured_latency(setup, capsys):
    from hnas_basicsr.nas.latency import LatencyTable, measure_latency_table
    tmp, sets, models = setup
    table = measure_latency_table(num_feat=4, num_layers=12, upscale=2, lr_size=(6, 5), runs=1, global_skip=None,
                                  cell_residual=False)
    path = tmp / 'latency.yml'
    path.write_text(yaml.safe_dump(table))
    out = tmp / 'out_latency'
    assert benchmark.main(['-opt', *models, '--sets', sets[0], '--out', str(out), '--runs', '1',
                           '--latency-table', str(path)]) == 0
    rows = {line.split(' | ')[0].strip('| '): line.split(' | ')[1:] for line in
            (out / 'benchmark.md').read_text().split('Latency table', 1)[1].splitlines() if line.startswith('| ')}
    predicted = LatencyTable(table).latency_ms(published_genotypes()['HNAS_C'])
    assert float(rows['hnas'][0]) == pytest.approx(predicted, abs=0.05) and float(rows['hnas'][1]) > 0
    assert rows['edsr'][0] == '-' and float(rows['edsr'][1]) > 0 and 'EDSR is not an HNASNet' in rows['edsr'][2]
    assert rows['edsr_x3'][:2] == ['-', '-'] and 'the table is for x2' in rows['edsr_x3'][2]
    assert 'hnas: predicted' in capsys.readouterr().out
    # an HNASNet of other settings than the table's is timed, not predicted
    other = write_model(str(tmp), 'hnas_skip', dict(HNAS_OPT, global_skip='bicubic'),
                        HNASNet(**dict({k: v for k, v in HNAS_OPT.items() if k != 'type'}, global_skip='bicubic')))
    assert benchmark.main(['-opt', other, '--sets', sets[0], '--out', str(out), '--runs', '1',
                           '--latency-table', str(path)]) == 0
    line = next(x for x in (out / 'benchmark.md').read_text().splitlines() if x.startswith('| hnas_skip | -'))
    assert 'global_skip' in line
