"""A NaN/Inf loss, gradient or reward skips its update: weights, controller and baseline stay as they were."""
import copy

import hnas_basicsr  # noqa: F401  (registers the plugin; before basicsr)
import numpy as np
import pytest
import torch
from basicsr.models import build_model

from hnas_basicsr.models.finite_updates import guard_optimizer
from tiny_options import parsed, retrain_options, search_options


def build(opt, tmp_path):
    return build_model(parsed(opt, tmp_path))


def weights(net):
    return {k: v.clone() for k, v in net.state_dict().items()}


def same(a, b):
    return all(torch.equal(a[k], b[k]) for k in a)


def batch(nan=False):
    lq = torch.rand(2, 3, 12, 12)
    if nan:
        lq[0, 0, 0, 0] = float('nan')
    return {'lq': lq, 'gt': torch.rand(2, 3, 24, 24)}


@pytest.mark.parametrize('kind', ['retrain', 'search'])
def test_a_nan_loss_skips_the_weight_update_and_counts_it(kind, tmp_path):
    opt = retrain_options() if kind == 'retrain' else search_options('nan', 10)
    opt['model_type'] = 'HNASSRModel' if kind == 'retrain' else opt['model_type']
    if kind == 'search':
        opt['search']['weight_steps'] = 1000  # weight steps only
    model = build(opt, tmp_path)
    before = weights(model.net_g)
    model.feed_data(batch(nan=True))
    model.optimize_parameters(1)
    assert np.isnan(model.get_current_log()['l_pix'])
    assert same(before, weights(model.net_g))
    assert model.optimizer_g.skipped_steps == 1
    model.feed_data(batch())
    model.optimize_parameters(2)
    assert not same(before, weights(model.net_g))  # a finite batch still trains
    assert model.optimizer_g.skipped_steps == 1
    assert all(torch.isfinite(v).all() for v in weights(model.net_g).values())


def test_a_non_finite_reward_leaves_controller_and_baseline_untouched(tmp_path, monkeypatch):
    model = build(search_options('nan_reward', 10), tmp_path)
    model.controller_batches = iter([batch() for _ in range(4)])
    model.log_dict = {}  # (no weight step before this controller round)
    model.baselines[0].update(20.0)
    controller, baseline = weights(model.net_c), model.baselines[0].value
    monkeypatch.setattr(model, 'evaluate', lambda genotype, lq, gt: (float('inf'), 1.0))
    model.train_controller()
    assert same(controller, weights(model.net_c)) and model.baselines[0].value == baseline
    assert model.skipped_rewards == 2 and model.get_current_log()['skipped_reward'] == 2
    monkeypatch.setattr(model, 'evaluate', lambda genotype, lq, gt: (30.0, 1.0))
    model.train_controller()
    assert not same(controller, weights(model.net_c)) and model.baselines[0].value != baseline


def test_a_non_finite_gradient_alone_skips_the_step():
    param = torch.nn.Parameter(torch.ones(3))
    optimizer = guard_optimizer(torch.optim.SGD([param], lr=1.0), 'toy')
    (param * torch.tensor([1.0, float('inf'), 1.0])).sum().backward()
    optimizer.step()
    assert torch.equal(param.detach(), torch.ones(3)) and optimizer.skipped_steps == 1
    assert param.grad is None or not param.grad.abs().sum()
    (param * 2).sum().backward()
    optimizer.step()
    assert torch.equal(param.detach(), -torch.ones(3))
