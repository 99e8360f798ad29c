"""Which architectures the search's weight steps train, and when the controller starts: ``search.weight_sampling``
and ``search.warmup_iter``."""
import random

import pytest
import torch
from basicsr.models import build_model

from hnas_basicsr.nas import space
from tiny_options import parsed, search_options


@pytest.mark.parametrize('search, uniform_iters, controller_iters', [
    ({}, [], [2, 4, 6]),
    ({'warmup_iter': 3}, [1, 2, 3], [4, 6]),
    ({'weight_sampling': 'uniform'}, [1, 2, 3, 4, 5, 6], [2, 4, 6]),
    ({'weight_sampling': 'uniform', 'warmup_iter': 4}, [1, 2, 3, 4, 5, 6], [6]),
])
def test_weight_steps_sample_uniformly_when_asked_and_the_controller_waits_for_the_warmup(
        tmp_path, search, uniform_iters, controller_iters):
    opt = search_options('search_sampling', 6)
    opt['search'].update(search)
    model = build_model(parsed(opt, tmp_path))
    controller_rounds, trained = [], []
    model.train_controller = lambda: controller_rounds.append(current_iter)  # (the controller itself stays put)
    torch.manual_seed(0)
    for current_iter in range(1, 7):
        model.feed_data({'lq': torch.rand(1, 3, 12, 12), 'gt': torch.rand(1, 3, 24, 24)})
        model.optimize_parameters(current_iter)
        trained.append(model.get_bare_model(model.net_g).genotype)
    assert controller_rounds == controller_iters

    rng, generator = random.Random(0), torch.Generator().manual_seed(0)
    expected = [space.random_genotype(3, rng) if it in uniform_iters
                else model.net_c.sample(generator=generator).genotype for it in range(1, 7)]
    assert trained == expected
    assert len(set(trained)) > 1


@pytest.mark.parametrize('search, message', [
    ({'weight_sampling': 'random'}, 'search.weight_sampling'),
    ({'warmup_iter': -1}, 'search.warmup_iter'),
    ({'warmup_iter': 2.5}, 'search.warmup_iter'),
])
def test_bad_sampling_settings_are_named(tmp_path, search, message):
    opt = search_options('search_sampling', 6)
    opt['search'].update(search)
    with pytest.raises(ValueError, match=message):
        build_model(parsed(opt, tmp_path))
