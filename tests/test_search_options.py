"""The shipped search option files: valid search settings, buildable networks, the split dataset."""
import glob

import pytest
import yaml
from basicsr.archs import build_network

from hnas_basicsr.objective import search_options

FILES = ['options/hnas_search.yml'] + sorted(glob.glob('options/search/*.yml'))


def test_paper_settings_ship_for_three_lambdas():
    lambdas = sorted(yaml.safe_load(open(f))['search']['lambda'] for f in FILES[1:])
    assert lambdas == [0.2, 0.6, 0.9]


@pytest.mark.parametrize('path', FILES)
def test_search_file_is_valid(path):
    opt = yaml.safe_load(open(path))
    assert opt['model_type'] == 'HNASSearchModel'
    search_options(opt)
    assert opt['datasets']['train']['type'] == 'HNASSplitDataset'
    assert opt['datasets']['train']['weights_ratio'] == 0.4
    assert opt['network_g']['num_feat'] == 8 and opt['network_g']['num_layers'] == opt['network_c']['num_layers']
    for phase, dataset in opt['datasets'].items():
        for key in ('dataroot_gt', 'dataroot_lq'):
            assert 'Set5' not in dataset[key] and 'Set14' not in dataset[key], f'{phase} reads a test set'
    build_network(dict(opt['network_c']))


@pytest.mark.parametrize('search, message', [
    ({'lambda': 1.5}, 'search.lambda'),
    ({'strategy': 'evolution'}, 'search.strategy'),
    ({'weight_steps': 0}, 'search.weight_steps'),
    ({'lamda': 0.5}, 'unknown key'),
    ({'max_identity': 9}, 'search.max_identity: expected null or an integer from 0 to 8, got 9'),
    ({'reward_psnr': 'paired'}, "search.reward_psnr: expected 'absolute' or 'relative', got 'paired'"),
])
def test_bad_search_settings_are_named(search, message):
    with pytest.raises(ValueError, match=message):
        search_options({'search': search})


def test_schedule_shorter_than_the_run_is_refused_by_name():
    from hnas_basicsr.cli import ToolError
    from hnas_basicsr.validation import check_train
    opt = yaml.safe_load(open('options/hnas_search.yml'))
    check_train(opt, 'hnas_search.yml')
    opt['train']['total_iter'] = 10 * opt['train']['scheduler']['periods'][0]
    with pytest.raises(ToolError, match='hnas_search.yml: train.scheduler.periods: they add up to 200, fewer than '
                       'train.total_iter'):
        check_train(opt, 'hnas_search.yml')


def test_max_identity_reaches_the_controllers_and_the_uniform_sampler():
    import random

    from hnas_basicsr.nas import space
    from hnas_basicsr.objective import SearchObjective, build_controllers, controllers_of
    search = search_options({'search': {'lambda': [0.2, 0.9], 'max_identity': 1}})
    net_c = build_controllers(build_network, {'type': 'HNASController', 'num_layers': 12}, search)
    assert [c.max_identity for c in controllers_of(net_c)] == [1, 1]
    hparams = dict(num_layers=12, upscale=2, num_in_ch=3, num_out_ch=3, global_skip=None, cell_residual=False)
    objective = SearchObjective(search, hparams)
    rng = random.Random(0)
    assert max(space.identity_edges(objective.sample(None, None, rng, uniform=True)[0]) for _ in range(100)) == 1
