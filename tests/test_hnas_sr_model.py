"""HNASSRModel: basicsr's SRModel whose checkpoints survive a failed or interrupted write, in basicsr's format."""
import os

import hnas_basicsr  # noqa: F401  (registers the plugin)
import pytest
import torch
from basicsr.models import build_model

from hnas_basicsr.cli import ToolError
from hnas_basicsr.patches import use_checked_classes
from tiny_options import parsed, retrain_options, search_options


@pytest.fixture
def model(tmp_path):
    return build_model(parsed(dict(retrain_options(), model_type='HNASSRModel'), tmp_path))


def load(path):
    return torch.load(path, map_location='cpu', weights_only=True)


def change_weights(model):
    with torch.no_grad():
        for param in model.net_g.parameters():
            param.add_(1)


def test_checkpoints_have_basicsrs_format(model, tmp_path):
    model.save(epoch=0, current_iter=2)
    params = load(tmp_path / 'net_g_2.pth')['params']
    assert params.keys() == model.net_g.state_dict().keys()
    state = load(tmp_path / '2.state')
    assert (state['epoch'], state['iter'], len(state['optimizers']), len(state['schedulers'])) == (0, 2, 1, 1)
    assert sorted(os.listdir(tmp_path)) == ['2.state', 'net_g_2.pth']  # no temporary file left


@pytest.mark.parametrize('failing', ['write', 'rename'])
def test_a_failed_checkpoint_write_keeps_the_previous_file(failing, model, tmp_path, monkeypatch):
    """A write interrupted half-way (a kill, a full disk) or a failed rename: the previous checkpoint stays whole."""
    model.save_network(model.net_g, 'net_g', -1)
    before = load(tmp_path / 'net_g_latest.pth')
    change_weights(model)
    if failing == 'write':
        def half_written(obj, path):
            with open(path, 'wb') as f:
                f.write(b'PK\x03\x04 half a checkpoint')
            raise OSError(28, 'No space left on device')
        monkeypatch.setattr(torch, 'save', half_written)
    else:
        def no_rename(src, dst):
            raise OSError(5, 'Input/output error')
        monkeypatch.setattr(os, 'replace', no_rename)
    with pytest.raises(ToolError, match='net_g_latest.pth: cannot write the checkpoint .*the previous file is kept'):
        model.save_network(model.net_g, 'net_g', -1)
    after = load(tmp_path / 'net_g_latest.pth')
    assert all(torch.equal(before['params'][k], after['params'][k]) for k in before['params'])
    assert os.listdir(tmp_path) == ['net_g_latest.pth']


def test_the_search_model_saves_its_search_state_in_the_training_state(tmp_path):
    model = build_model(parsed(search_options('state', 6), tmp_path))
    model.save_training_state(epoch=0, current_iter=3)
    assert set(load(tmp_path / '3.state')) == {'epoch', 'iter', 'optimizers', 'schedulers', 'search'}


def test_basicsr_class_names_run_the_checked_subclasses():
    opt = use_checked_classes(retrain_options())
    assert opt['model_type'] == 'HNASSRModel'
    assert {d['type'] for d in opt['datasets'].values()} == {'HNASPairedImageDataset'}
    search = search_options('names', 2)
    search['datasets']['train']['base_type'] = 'PairedImageDataset'
    search = use_checked_classes(search)
    assert search['model_type'] == 'HNASSearchModel'
    assert search['datasets']['train']['base_type'] == 'HNASPairedImageDataset'
    odd = dict(retrain_options(), model_type={})
    odd['datasets']['val']['type'] = []
    assert use_checked_classes(odd)['model_type'] == {}  # (left for the checks to reject)
