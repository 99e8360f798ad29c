"""hnas_basicsr.tools.derive (tools/derive.py, hnas-derive) on a tiny search experiment (tiny data, tiny supernet, checkpoints written directly).

No training loop runs to build the experiment: the checkpoints are freshly built networks saved in BasicSR's
format, which is all derive.py reads. One derive run (module fixture) serves most tests.
"""
import csv
import os
import random
import re
import subprocess
import sys

import hnas_basicsr  # noqa: F401  (registers the plugin; before basicsr)
import cv2
import numpy as np
import pytest
import torch
import yaml
from basicsr.archs import build_network
from basicsr.data import build_dataset
from basicsr.metrics.psnr_ssim import calculate_psnr_pt

from hnas_basicsr.archs.hnas_arch import HNASNet
from hnas_basicsr.data.hnas_split_dataset import source_image
from hnas_basicsr.nas import space
from hnas_basicsr.nas.cost import count_cost
from hnas_basicsr.nas.genotype import Genotype
from hnas_basicsr.nas.reward import reward
from hnas_basicsr.tools import derive as derive_tool
from hnas_basicsr.tools import prepare_data

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


LAYERS = 3  # L of the tiny supernet and controller
SEARCH_FEAT = 4  # supernet width
COST_FEAT = 16  # search.cost_num_feat (the default of --num-feat)
EXPORT_FEAT = 8  # --num-feat of the main run: differs from COST_FEAT, so each width is checked where it applies
SAMPLES, TOP_K = 6, 2
IMAGES = ('a', 'b', 'c', 'd')  # d (last by name) is held out as the validation image
ONE_THREAD = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')


@pytest.fixture(scope='module', autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def make_images(folder):
    """Smooth random 48x48 RGB images (distinct, so every sub-image is unique)."""
    rng = np.random.default_rng(0)
    os.makedirs(folder)
    for name in IMAGES:
        small = rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)
        cv2.imwrite(os.path.join(folder, f'{name}.png'), cv2.resize(small, (48, 48), interpolation=cv2.INTER_CUBIC))


def search_options(data, strategy='controller'):
    """options/hnas_search.yml, made tiny and pointed at ``data``."""
    with open(os.path.join(ROOT, 'options', 'hnas_search.yml')) as f:
        opt = yaml.safe_load(f)
    opt['name'] = 'tiny_search'
    train = opt['datasets']['train']
    train.update(dataroot_gt=f'{data}/GTmod12_sub.lmdb', dataroot_lq=f'{data}/LRbicx2_sub.lmdb', gt_size=24,
                 batch_size_per_gpu=2)
    opt['datasets']['val'].update(dataroot_gt=f'{data}/val/GTmod12', dataroot_lq=f'{data}/val/LRbicx2')
    opt['network_g'].update(num_feat=SEARCH_FEAT, num_layers=LAYERS)
    opt['network_c'].update(num_layers=LAYERS, hidden_size=16)
    opt['search'].update(strategy=strategy, cost_num_feat=COST_FEAT)
    opt['logger']['use_tb_logger'] = False
    return opt


def write_yaml(path, data):
    with open(path, 'w') as f:
        yaml.safe_dump(data, f, sort_keys=False)
    return str(path)


def read_csv(path):
    with open(path, newline='') as f:
        return list(csv.DictReader(f))


def parse_describe(text):
    """The ranking's genotype column -> Genotype, checked to print back as the same line."""
    genotype = Genotype.from_description(text, LAYERS)
    assert genotype.describe() == text
    return genotype


@pytest.fixture(scope='module')
def experiment(tmp_path_factory):
    """Tiny data (3 training images, 1 held out), a search option file and an experiment with checkpoints."""
    tmp = tmp_path_factory.mktemp('derive')
    make_images(str(tmp / 'hr'))
    data = str(tmp / 'data')
    assert prepare_data.main([str(tmp / 'hr'), '--out', data, '--scales', '2', '--crop-size', '24', '--step', '12',
                              '--holdout', '1']) == 0
    opt = search_options(data)
    models = tmp / 'experiments' / opt['name'] / 'models'
    os.makedirs(models)
    torch.manual_seed(0)
    torch.save({'params': build_network(opt['network_g']).state_dict()}, models / 'net_g_latest.pth')
    torch.save({'params': build_network(opt['network_c']).state_dict()}, models / 'net_c_latest.pth')
    return {'tmp': tmp, 'data': data, 'opt': opt, 'opt_path': write_yaml(tmp / 'search.yml', opt),
            'dir': str(tmp / 'experiments' / opt['name'])}


@pytest.fixture(scope='module')
def derived(experiment):
    """One run of derive.py on the experiment, with its parsed ranking."""
    out = str(experiment['tmp'] / 'derived')
    code = derive_tool.main(['-opt', experiment['opt_path'], '--experiment', experiment['dir'], '--out', out,
                             '--samples', str(SAMPLES), '--top-k', str(TOP_K), '--num-feat', str(EXPORT_FEAT),
                             '--total-iter', '2', '--batch', '8'])
    assert code == 0
    rows = read_csv(os.path.join(out, 'ranking.csv'))
    for row in rows:
        row['_genotype'] = parse_describe(row['genotype'])
    return dict(experiment, out=out, rows=rows)


def load_checkpoint(experiment, key):
    net = build_network(experiment['opt'][f'network_{key[-1]}'])
    net.load_state_dict(torch.load(os.path.join(experiment['dir'], 'models', f'{key}_latest.pth'))['params'])
    return net.eval()


def disk_split(experiment, split):
    """The split of the training sub-images read from the PNG folders (no LMDB), whole, no augmentation."""
    data = experiment['data']
    opt = dict(experiment['opt']['datasets']['train'], split=split, phase='val', scale=2, io_backend={'type': 'disk'},
               dataroot_gt=f'{data}/GTmod12_sub', dataroot_lq=f'{data}/LRbicx2_sub')
    opt.pop('gt_size')
    return build_dataset(opt)


# ---- the ranking ---------------------------------------------------------------------------------------------------
def test_ranking_lists_greedy_and_sampled_rows_by_reward(derived):
    rows, search = derived['rows'], derived['opt']['search']
    assert [row['origin'] for row in rows].count('greedy') == 1
    assert {row['origin'] for row in rows} == {'greedy', 'sampled'}
    assert [int(row['rank']) for row in rows] == list(range(1, len(rows) + 1))
    assert len({row['genotype'] for row in rows}) == len(rows) >= 3
    rewards = [float(row['reward']) for row in rows]
    assert rewards == sorted(rewards, reverse=True)
    for row in rows:
        expected = reward(float(row['psnr_db']), float(row['gmacs']) * 1e9 / (search['cost_unit'] * 1e9),
                          search['lambda'], 1)
        assert float(row['reward']) == pytest.approx(expected, rel=1e-9, abs=1e-9)
        assert int(row['position']) == row['_genotype'].position
    # the greedy row is the controller's most likely architecture
    greedy = next(row for row in rows if row['origin'] == 'greedy')
    with torch.no_grad():
        assert greedy['_genotype'] == load_checkpoint(derived, 'net_c').sample(greedy=True).genotype
    # ranking.md: the same rows in the same order
    with open(os.path.join(derived['out'], 'ranking.md')) as f:
        table = [line for line in f.read().splitlines() if re.match(r'\| \d+ \|', line)]
    assert len(table) == len(rows)
    for line, row in zip(table, rows):
        cells = [c.strip() for c in line.strip('|').split('|')]
        assert cells[:3] == [row['rank'], row['origin'], row['position']]
        assert float(cells[3]) == pytest.approx(float(row['psnr_db']), abs=6e-4)
        assert float(cells[6]) == pytest.approx(float(row['reward']), abs=6e-4)


def test_cost_column_is_the_hnasnet_at_the_rewarded_width_and_480x480(derived):
    for row in derived['rows']:
        net = HNASNet(row['_genotype'].to_dict(), num_feat=COST_FEAT, num_layers=LAYERS, upscale=2)
        cost = count_cost(net, (480, 480), 3)
        assert float(row['gmacs']) == pytest.approx(cost.macs / 1e9, rel=1e-12)
        assert float(row['mparams']) == pytest.approx(cost.params / 1e6, rel=1e-12)


def test_psnr_is_that_of_the_printed_genotype_on_the_controller_split(derived):
    """The scored genotype is the printed one (no re-sampling inside the forward pass: defect 3)."""
    supernet = load_checkpoint(derived, 'net_g')
    assert len(list(disk_split(derived, 'controller'))) <= 64  # derive's default --max-patches: it scored them all
    lq, gt = derive_tool.controller_patches(derived['opt'], 64)
    psnrs = []
    for row in derived['rows']:
        with torch.no_grad():  # the supernet's path on derive's batches of 8 (its BatchNorm uses batch statistics)
            sr = torch.cat([supernet(lq[i:i + 8], row['_genotype']) for i in range(0, len(lq), 8)]).clamp(0, 1)
        expected = calculate_psnr_pt(sr, gt, crop_border=2, test_y_channel=True).mean().item()
        assert float(row['psnr_db']) == pytest.approx(expected, abs=1e-4)
        psnrs.append(expected)
    assert max(psnrs) - min(psnrs) > 1e-2  # the architectures really score differently, so the check bites


# ---- no validation or test data in the selection ------------------------------------------------------------------
def test_scored_patches_are_the_controller_split_only(derived):
    opt = derive_tool.load_yaml(derived['opt_path'])
    lq, gt = derive_tool.controller_patches(opt, 1000)
    # which sub-image each scored patch is: by content (every sub-image of the synthetic images is distinct)
    data = derived['data']
    subs = {}
    for name in sorted(os.listdir(f'{data}/GTmod12_sub')):
        img = cv2.imread(f'{data}/GTmod12_sub/{name}', cv2.IMREAD_COLOR)[..., ::-1]
        subs[name[:-4]] = torch.from_numpy(img.astype(np.float32) / 255.).permute(2, 0, 1)
    found = [[key for key, img in subs.items() if torch.equal(img, patch)] for patch in gt]
    assert all(len(keys) == 1 for keys in found)
    sources = {source_image(keys[0]) for keys in found}
    controller, weights = disk_split(derived, 'controller'), disk_split(derived, 'weights')
    assert sources == set(controller.sources) and not sources & set(weights.sources)
    assert 'd' not in sources and not any(source_image(k) == 'd' for k in subs)  # the held-out image
    assert len(gt) == len(controller) and lq.shape[-1] * 2 == gt.shape[-1] == 24
    # fewer patches than the split holds: spread over the split, not its first images only
    _, few = derive_tool.controller_patches(opt, 2)
    assert len(few) == 2
    assert len({source_image(k) for p in few for k, img in subs.items() if torch.equal(img, p)}) == 2


def test_a_run_builds_only_the_controller_split(experiment, tmp_path, monkeypatch):
    built = []

    def recording_build_dataset(dataset_opt):
        built.append(dict(dataset_opt))
        return build_dataset(dataset_opt)

    monkeypatch.setattr(derive_tool, 'build_dataset', recording_build_dataset)
    assert derive_tool.main(['-opt', experiment['opt_path'], '--experiment', experiment['dir'], '--out',
                             str(tmp_path), '--samples', '1', '--top-k', '1', '--num-feat', '4']) == 0
    assert built and all(d['split'] == 'controller' and d['type'] == 'HNASSplitDataset' for d in built)
    assert {(d['dataroot_gt'], d['dataroot_lq']) for d in built} == {
        (f"{experiment['data']}/GTmod12_sub.lmdb", f"{experiment['data']}/LRbicx2_sub.lmdb")}


def test_finetune_scores_each_path_after_its_own_fine_tuning_and_leaves_the_supernet(experiment, tmp_path):
    """--finetune N: each row's PSNR is that of a copy of the supernet whose path took N Adam steps on the same
    batches of the weight split; the supernet and the paths' starting weights are those of the checkpoint."""
    out = str(tmp_path / 'finetuned')
    args = ['-opt', experiment['opt_path'], '--experiment', experiment['dir'], '--samples', '2', '--top-k', '1',
            '--num-feat', '4', '--batch', '8']
    assert derive_tool.main(args + ['--out', out, '--finetune', '3']) == 0
    assert derive_tool.main(args + ['--out', str(tmp_path / 'plain')]) == 0
    rows = read_csv(os.path.join(out, 'ranking.csv'))
    plain = {row['genotype']: float(row['psnr_db']) for row in read_csv(os.path.join(tmp_path, 'plain', 'ranking.csv'))}
    assert 'fine-tuned alone for 3 steps' in open(os.path.join(out, 'ranking.md')).read()
    opt = derive_tool.load_yaml(experiment['opt_path'])
    batches = derive_tool.weight_batches(opt, 3, 0)
    assert len(batches) == 3 and all(len(lq) == opt['datasets']['train']['batch_size_per_gpu'] for lq, _ in batches)
    lq, gt = derive_tool.controller_patches(opt, 64)
    supernet = load_checkpoint(experiment, 'net_g')
    before = {k: v.clone() for k, v in supernet.state_dict().items()}
    for row in rows:
        genotype = parse_describe(row['genotype'])
        net = derive_tool.finetuned(supernet, genotype, batches, 1e-3)
        with torch.no_grad():
            sr = torch.cat([net(lq[i:i + 8], genotype) for i in range(0, len(lq), 8)]).clamp(0, 1)
        expected = calculate_psnr_pt(sr, gt, crop_border=2, test_y_channel=True).mean().item()
        assert float(row['psnr_db']) == pytest.approx(expected, abs=1e-4)
        assert abs(expected - plain[row['genotype']]) > 1e-3  # fine-tuning changed the score
        changed = [k for k, v in net.state_dict().items() if not torch.equal(v, before[k])]
        assert changed and all(k.startswith(('conv_first', 'conv_last', 'head_norm', 'normal_cells',
                                             'upsampling_cells')) for k in changed)
        assert any(k.startswith(('normal_cells', 'upsampling_cells')) and not torch.equal(v, before[k])
                   for k, v in net.state_dict().items())
        off_path = [k for k in before if '.edges.' in k and k not in changed]
        assert off_path  # the ops of other architectures kept their weights
    assert all(torch.equal(v, before[k]) for k, v in supernet.state_dict().items())


# ---- the exported architectures ------------------------------------------------------------------------------------
def exported(derived, rank):
    folder = os.path.join(derived['out'], f'rank{rank}')
    name = f"HNAS_{derived['opt']['name']}_rank{rank}_x2"
    with open(os.path.join(folder, f'train_{name}.yml')) as f:
        train_opt = yaml.safe_load(f)
    with open(os.path.join(folder, f'test_{name}.yml')) as f:
        test_opt = yaml.safe_load(f)
    return folder, name, train_opt, test_opt


def test_top_k_folders_hold_genotype_picture_and_options(derived):
    assert sorted(os.listdir(derived['out'])) == sorted(['ranking.csv', 'ranking.md', 'pareto.csv', 'pareto.md',
                                                         'pareto.png', 'front'] +
                                                        [f'rank{k}' for k in range(1, TOP_K + 1)])
    for row in derived['rows'][:TOP_K]:
        folder, name, _, _ = exported(derived, row['rank'])
        assert sorted(os.listdir(folder)) == sorted(['genotype.yml', 'architecture.png', f'train_{name}.yml',
                                                     f'test_{name}.yml'])
        with open(os.path.join(folder, 'genotype.yml')) as f:
            assert Genotype.from_dict(yaml.safe_load(f), LAYERS) == row['_genotype']
        with open(os.path.join(folder, 'architecture.png'), 'rb') as f:
            assert f.read(8) == b'\x89PNG\r\n\x1a\n'
        picture = cv2.imread(os.path.join(folder, 'architecture.png'))
        assert picture is not None and min(picture.shape[:2]) > 100 and picture.std() > 0


def test_the_non_dominated_architectures_are_listed_and_exported(derived):
    """pareto.csv holds exactly the rows that no other row beats on both supernet PSNR and multiply-adds."""
    front = read_csv(os.path.join(derived['out'], 'pareto.csv'))
    points = {row['genotype']: (float(row['psnr_db']), float(row['gmacs'])) for row in derived['rows']}

    def beaten(psnr, gmacs):
        return any(p >= psnr and g <= gmacs and (p, g) != (psnr, gmacs) for p, g in points.values())

    assert {row['genotype'] for row in front} == {g for g, point in points.items() if not beaten(*point)}
    assert [float(row['cost']) for row in front] == sorted(float(row['cost']) for row in front)
    for row in front:
        assert float(row['cost']) == float(row['gmacs'])  # (the rewarded cost: multiply-adds here)
        folder = os.path.join(derived['out'], 'front', row['front'])
        with open(os.path.join(folder, 'genotype.yml')) as f:
            assert Genotype.from_dict(yaml.safe_load(f), LAYERS) == parse_describe(row['genotype'])
        assert any(name.startswith('train_') for name in os.listdir(folder))


def test_train_options_build_hnasnet_on_the_search_training_data(derived):
    search = derived['opt']
    for row in derived['rows'][:TOP_K]:
        _, name, train_opt, test_opt = exported(derived, row['rank'])
        assert train_opt['name'] == f'train_{name}' and train_opt['model_type'] == 'HNASSRModel'
        assert train_opt['scale'] == 2 and 'network_c' not in train_opt
        net = build_network(dict(train_opt['network_g']))
        assert isinstance(net, HNASNet)
        assert train_opt['network_g']['type'] == 'HNASNet'
        assert (train_opt['network_g']['num_feat'], train_opt['network_g']['num_layers']) == (EXPORT_FEAT, LAYERS)
        assert Genotype.from_dict(train_opt['network_g']['genotype'], LAYERS) == row['_genotype']
        assert net.genotype == row['_genotype']
        # the search's training data, both splits (a plain paired dataset), never a test set
        train_set = train_opt['datasets']['train']
        assert train_set['type'] == 'HNASPairedImageDataset'
        assert not {'split', 'weights_ratio', 'split_seed', 'base_type'} & set(train_set)
        source = search['datasets']['train']
        assert (train_set['dataroot_gt'], train_set['dataroot_lq']) == (source['dataroot_gt'], source['dataroot_lq'])
        assert set(train_opt['datasets']) == {'train', 'val'}
        assert train_opt['datasets']['val'] == search['datasets']['val']  # the held-out training image
        assert 'optim_c' not in train_opt['train'] and 'scheduler_c' not in train_opt['train']
        assert train_opt['train']['total_iter'] == 2
        assert test_opt['network_g'] == train_opt['network_g'] and test_opt['model_type'] == 'HNASSRModel'
        assert test_opt['path']['pretrain_network_g'] == f'experiments/train_{name}/models/net_g_latest.pth'
        assert list(test_opt['datasets'].values()) == [search['datasets']['val']]
        for dataset in list(train_opt['datasets'].values()) + list(test_opt['datasets'].values()):
            assert dataset['dataroot_gt'].startswith(derived['data'])


def test_exported_train_options_train_through_basicsr(derived):
    _, name, train_opt, _ = exported(derived, 1)
    path = os.path.join(derived['out'], 'rank1', f'train_{name}.yml')
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, 'hnas_basicsr', 'train.py'), '-opt', path, '--force_yml',
         'train:total_iter=2', 'logger:use_tb_logger=false', 'logger:print_freq=1', 'val:val_freq=2',
         'logger:save_checkpoint_freq=2'],
        cwd=str(derived['tmp']), env=dict(ONE_THREAD, HNAS_ROOT=str(derived['tmp'])), capture_output=True, text=True,
        timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    weights = derived['tmp'] / 'experiments' / f'train_{name}' / 'models' / 'net_g_latest.pth'
    net = build_network(dict(train_opt['network_g']))
    net.load_state_dict(torch.load(weights, weights_only=True)['params'])


# ---- random search ------------------------------------------------------------------------------------------------
def test_random_strategy_ranks_uniform_samples_without_greedy_row(experiment):
    opt_path = write_yaml(experiment['tmp'] / 'random_search.yml', search_options(experiment['data'], 'random'))
    out = str(experiment['tmp'] / 'derived_random')
    assert derive_tool.main(['-opt', opt_path, '--experiment', experiment['dir'], '--out', out, '--samples', '5',
                             '--top-k', '1', '--num-feat', '4', '--seed', '3']) == 0
    rows = read_csv(os.path.join(out, 'ranking.csv'))
    assert {row['origin'] for row in rows} == {'sampled'}
    # the random-search sampler of the search (space.random_genotype), not the controller
    rng = random.Random(3)
    expected = list(dict.fromkeys(space.random_genotype(LAYERS, rng) for _ in range(5)))
    assert sorted(row['genotype'] for row in rows) == sorted(g.describe() for g in expected)


# ---- several lambdas ---------------------------------------------------------------------------------------------
def test_a_search_over_several_lambdas_samples_each_controller_and_ranks_at_any_lambda(experiment, tmp_path):
    """network_c holds one controller per lambda: each proposes its greedy and sampled architectures; --lambda
    re-ranks; the front is written as for one lambda."""
    from torch import nn
    opt = search_options(experiment['data'])
    opt['search']['lambda'] = [0.2, 0.9]
    experiment_dir = tmp_path / 'experiments' / 'tiny_lambdas'
    os.makedirs(experiment_dir / 'models')
    torch.manual_seed(1)
    controllers = nn.ModuleList(build_network(dict(opt['network_c'])) for _ in range(2))
    torch.save({'params': controllers.state_dict()}, experiment_dir / 'models' / 'net_c_latest.pth')
    os.symlink(os.path.join(experiment['dir'], 'models', 'net_g_latest.pth'),
               experiment_dir / 'models' / 'net_g_latest.pth')
    opt_path = write_yaml(tmp_path / 'lambdas.yml', opt)
    for lam in ('0.2', '0.9'):
        out = str(tmp_path / f'derived_{lam}')
        assert derive_tool.main(['-opt', opt_path, '--experiment', str(experiment_dir), '--out', out, '--samples', '3',
                                 '--top-k', '1', '--num-feat', '4', '--lambda', lam]) == 0
        rows = read_csv(os.path.join(out, 'ranking.csv'))
        greedy_origins = [row['origin'] for row in rows if row['origin'].startswith('greedy')]
        assert all(any(f'{lam}' in origin for origin in greedy_origins) for lam in (0.2, 0.9)), greedy_origins
        for row in rows:
            cost = float(row['gmacs']) / opt['search']['cost_unit']
            assert float(row['reward']) == pytest.approx(reward(float(row['psnr_db']), cost, float(lam), 1.0))
        assert os.path.isfile(os.path.join(out, 'pareto.md')) and os.path.isdir(os.path.join(out, 'front', '1'))
    greedy = {lam: controller.sample(greedy=True).genotype.describe() for lam, controller in zip((0.2, 0.9), controllers)}
    assert {row['genotype'] for row in rows if row['origin'].startswith('greedy')} == set(greedy.values())


# ---- errors ---------------------------------------------------------------------------------------------------------
@pytest.fixture()
def bad_inputs(experiment, tmp_path):
    empty = tmp_path / 'empty_experiment'
    os.makedirs(empty / 'models')
    plain = search_options(experiment['data'])
    plain['datasets']['train']['type'] = 'PairedImageDataset'
    for key in ('split', 'weights_ratio', 'split_seed'):
        plain['datasets']['train'].pop(key)
    return {
        'missing experiment': (experiment['opt_path'], str(tmp_path / 'no_such_experiment')),
        'no checkpoints': (experiment['opt_path'], str(empty)),
        'not a search option file': (os.path.join(ROOT, 'options', 'train', 'HNAS', 'train_HNAS_A_x2.yml'),
                                     experiment['dir']),
        'no controller split': (write_yaml(tmp_path / 'plain.yml', plain), experiment['dir']),
    }


@pytest.mark.parametrize('case', ['missing experiment', 'no checkpoints', 'not a search option file',
                                  'no controller split'])
def test_errors_exit_2_with_one_line(bad_inputs, case, tmp_path, capsys):
    opt_path, experiment_dir = bad_inputs[case]
    out = tmp_path / 'out'
    assert derive_tool.main(['-opt', opt_path, '--experiment', experiment_dir, '--out', str(out)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith('derive.py: error:'), err
    assert not out.exists()


def test_command_line_error(tmp_path):
    result = subprocess.run([sys.executable, os.path.join(ROOT, 'tools', 'derive.py'), '-opt',
                             os.path.join(ROOT, 'options', 'train', 'HNAS', 'train_HNAS_A_x2.yml'), '--experiment',
                             str(tmp_path), '--out', str(tmp_path / 'out')],
                            env=ONE_THREAD, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and result.stdout == ''
    assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith('derive.py: error:')
    assert 'network_c' in result.stderr
