"""The shipped train/test option files: they parse, their networks build and run, and they agree with each other."""
import glob
import os

import pytest
import torch
import yaml
from basicsr.archs import build_network

from hnas_basicsr.nas.genotype import published_genotypes

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OPTIONS = os.path.join(ROOT, 'options')
TRAIN = sorted(glob.glob(os.path.join(OPTIONS, 'train', '**', '*.yml'), recursive=True))
TEST = sorted(glob.glob(os.path.join(OPTIONS, 'test', '**', '*.yml'), recursive=True))
HNAS = [(name, scale) for name in ('HNAS_A', 'HNAS_B', 'HNAS_C') for scale in (2, 3, 4)]
X2_TRAIN = [f'train/HNAS/train_{name}_x2.yml' for name in ('HNAS_A', 'HNAS_B', 'HNAS_C')]
X2_TRAIN += ['train/EDSR/train_EDSR_Bx2.yml', 'train/RCAN/train_RCAN_x2.yml']


def load(path):
    with open(os.path.join(OPTIONS, path)) as f:
        return yaml.safe_load(f)


def relative(path):
    return os.path.relpath(path, OPTIONS)


def stem(path):
    return os.path.splitext(os.path.basename(path))[0]


def test_the_expected_option_files_are_shipped():
    expected = {f'{phase}/HNAS/{phase}_{name}_x{scale}.yml' for phase in ('train', 'test') for name, scale in HNAS}
    expected |= {'train/EDSR/train_EDSR_Bx2.yml', 'train/RCAN/train_RCAN_x2.yml'}
    expected |= {'test/EDSR/test_EDSR_Bx2.yml', 'test/RCAN/test_RCAN_x2.yml'}
    expected |= {'train/HNAS/train_HNAS_A_x2_skimage_cpu.yml'}
    assert set(map(relative, TRAIN + TEST)) == expected


@pytest.mark.parametrize('path', TRAIN + TEST, ids=relative)
def test_network_builds_through_basicsr(path):
    opt = load(path)
    assert opt['name'] == stem(path) and opt['model_type'] == 'HNASSRModel'
    net = build_network(opt['network_g'])
    assert type(net).__name__ == opt['network_g']['type']
    assert opt['network_g']['upscale'] == opt['scale']


@pytest.mark.parametrize('path', [p for p in TRAIN + TEST if '/HNAS/' in p], ids=relative)
def test_hnas_network_runs_at_exactly_the_scale(path):
    opt = load(path)
    net = build_network(dict(opt['network_g'], num_feat=4))
    with torch.no_grad():
        out = net(torch.rand(1, 3, 8, 8))
    assert out.shape == (1, 3, 8 * opt['scale'], 8 * opt['scale'])


@pytest.mark.parametrize('name, scale', HNAS)
def test_hnas_genotypes_are_the_published_ones(name, scale):
    for path in (f'train/HNAS/train_{name}_x{scale}.yml', f'test/HNAS/test_{name}_x{scale}.yml'):
        network_g = load(path)['network_g']
        assert network_g['genotype'] == published_genotypes()[name].to_dict()
        assert (network_g['num_feat'], network_g['num_layers']) == (64, 12)


@pytest.mark.parametrize('path', TRAIN + TEST, ids=relative)
def test_metrics_are_psnr_and_ssim_on_y_with_crop_border_scale(path):
    opt = load(path)
    assert set(opt['val']['metrics']) == {'psnr', 'ssim'}
    for metric in opt['val']['metrics'].values():
        assert metric['crop_border'] == opt['scale'] and metric['test_y_channel'] is True


@pytest.mark.parametrize('path', [p for p in TRAIN if not p.endswith('_cpu.yml')], ids=relative)
def test_train_files_follow_the_paper_schedule(path):
    opt = load(path)
    scale, train, data = opt['scale'], opt['train'], opt['datasets']['train']
    assert data['dataroot_lq'] == f'datasets/DIV2K_train/LRbicx{scale}_sub.lmdb'
    assert data['io_backend'] == {'type': 'lmdb'}
    assert data['gt_size'] == 48 * scale and data['batch_size_per_gpu'] == 16
    assert opt['datasets']['val']['dataroot_lq'] == f'datasets/Set5/LRbicx{scale}'
    assert train['optim_g']['type'] == 'Adam' and train['optim_g']['lr'] == 1e-3
    assert train['scheduler'] == {
        'type': 'CosineAnnealingRestartLR',
        'periods': [train['total_iter']],
        'restart_weights': [1],
        'eta_min': 1e-5
    }
    assert train['pixel_opt']['type'] == 'L1Loss' and train['ema_decay'] == 0
    assert opt['path']['pretrain_network_g'] is None and opt['path']['resume_state'] is None


def test_x2_models_share_data_and_schedule():
    sections = []
    for path in X2_TRAIN:
        opt = load(path)
        sections.append({key: value for key, value in opt.items() if key not in ('name', 'network_g')})
    assert all(section == sections[0] for section in sections[1:])


@pytest.mark.parametrize('path', TEST, ids=relative)
def test_test_files_load_their_trained_weights_and_set_suffix(path):
    opt = load(path)
    scale = opt['scale']
    assert 'suffix' in opt['val'] and opt['val']['save_img'] is True
    train_name = stem(path).replace('test_', 'train_', 1)
    assert opt['path']['pretrain_network_g'] == f'experiments/{train_name}/models/net_g_latest.pth'
    train_opt = load(f'train/{os.path.basename(os.path.dirname(path))}/{train_name}.yml')
    assert opt['network_g'] == train_opt['network_g']
    assert [(d['name'], d['dataroot_gt'], d['dataroot_lq']) for d in opt['datasets'].values()] == [
        ('Set5', 'datasets/Set5/GTmod12', f'datasets/Set5/LRbicx{scale}'),
        ('Set14', 'datasets/Set14/GTmod12', f'datasets/Set14/LRbicx{scale}'),
    ]
