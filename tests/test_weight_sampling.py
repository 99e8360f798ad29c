"""Which architectures the search's weight steps train, and when the controller starts: ``search.weight_sampling``
and ``search.uniform_iter``."""
import random

import pytest
import torch
from basicsr.models import build_model

from hnas_basicsr.nas import space
from tiny_options import parsed, search_options


@pytest.mark.parametrize('search, uniform_iters, controller_iters', [
    ({}, [], [2, 4, 6]),
    ({'uniform_iter': 3}, [1, 2, 3], [4, 6]),
    ({'weight_sampling': 'uniform'}, [1, 2, 3, 4, 5, 6], [2, 4, 6]),
    ({'weight_sampling': 'uniform', 'uniform_iter': 4}, [1, 2, 3, 4, 5, 6], [6]),
])
def test_weight_steps_sample_uniformly_when_asked_and_the_controller_waits_for_the_warmup(
        tmp_path, search, uniform_iters, controller_iters):
    opt = search_options('search_sampling', 6)
    opt['search'].update(search)
    model = build_model(parsed(opt, tmp_path))
    controller_rounds, trained = [], []
    model.train_controller = lambda k: controller_rounds.append(current_iter)  # (the controller itself stays put)
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


def test_several_lambdas_train_one_controller_each_in_turn(tmp_path):
    """Weight steps sample from the lambdas' controllers in turn, and each round trains the next controller at its
    lambda: one search's budget split evenly among them."""
    opt = search_options('search_lambdas', 12)
    opt['search'].update(weight_steps=2, controller_steps=1)
    opt['search']['lambda'] = [0.2, 0.6, 0.9]
    model = build_model(parsed(opt, tmp_path))
    assert len(model.controllers) == 3 and len(set(map(id, model.controllers))) == 3
    rewarded, trained = [], []
    model.joint_reward = lambda psnr, cost, entropy, lam: rewarded.append(lam) or lam * psnr
    model._controller_loader = lambda: iter(lambda: {'lq': torch.rand(1, 3, 12, 12), 'gt': torch.rand(1, 3, 24, 24)}, 0)
    before = [[p.clone() for p in c.parameters()] for c in model.controllers]
    sampled = []
    original = model.sample
    model.sample = lambda greedy=False, uniform=False, k=0: sampled.append((greedy, k)) or original(greedy, uniform, k)
    torch.manual_seed(0)
    for current_iter in range(1, 13):
        model.feed_data({'lq': torch.rand(1, 3, 12, 12), 'gt': torch.rand(1, 3, 24, 24)})
        model.optimize_parameters(current_iter)
        trained.append(model.get_bare_model(model.net_g).genotype)
    assert rewarded == [0.2, 0.6, 0.9, 0.2, 0.6, 0.9]  # rounds at iterations 2, 4, ..., 12: controller 0, 1, 2, ...
    expected = []  # each iteration's weight step samples from controller it % 3, a round's step from its controller
    for it in range(1, 13):
        expected += [it % 3] + ([(it // 2 - 1) % 3] if it % 2 == 0 else [])
    assert [k for greedy, k in sampled if not greedy] == expected
    assert all(any(not torch.equal(a, b) for a, b in zip(old, c.parameters()))
               for old, c in zip(before, model.controllers))  # every controller learned
    assert 'reward_l0.2' in model.get_current_log() and 'p_position_1_l0.9' in model.get_current_log()


def test_the_first_round_after_the_uniform_start_trains_the_first_lambda(tmp_path):
    opt = search_options('search_lambdas_warm', 7)
    opt['search'].update(weight_steps=2, uniform_iter=3, **{'lambda': [0.2, 0.9]})
    model = build_model(parsed(opt, tmp_path))
    assert [model.controller_round(it) for it in (4, 6, 8)] == [0, 1, 2]  # (rounds at iterations 4, 6, 8, ...)


def test_a_controller_checkpoint_or_a_resume_of_other_lambdas_is_refused_naming_them(tmp_path):
    from hnas_basicsr.cli import ToolError
    opt = search_options('search_lambdas_resume', 6)
    opt['search']['lambda'] = [0.2, 0.9]
    model = build_model(parsed(opt, tmp_path))
    model.save_network(model.net_c, 'net_c', 3)
    model.save_training_state(epoch=0, current_iter=3)
    state = torch.load(tmp_path / '3.state', weights_only=False)
    assert state['search']['lambdas'] == [0.2, 0.9]

    reordered = search_options('search_lambdas_resume', 6)
    reordered['search']['lambda'] = [0.9, 0.2]
    with pytest.raises(ToolError, match=r'search.lambda: the run to resume searched at lambda \[0.2, 0.9\]'):
        build_model(parsed(reordered, tmp_path)).resume_training(state)
    single = parsed(search_options('search_one_lambda', 6), tmp_path)
    single['path']['pretrain_network_c'] = str(tmp_path / 'net_c_3.pth')
    with pytest.raises(ToolError, match=r'holds 2 controller\(s\).*search.lambda 0.6 needs 1'):
        build_model(single)


@pytest.mark.parametrize('search, message', [
    ({'lambda': [0.2, 0.2]}, 'search.lambda'),
    ({'lambda': []}, 'search.lambda'),
    ({'lambda': [0.2, 1.5]}, 'search.lambda'),
    ({'lambda': [0.2, 0.9], 'strategy': 'random'}, 'needs strategy: controller'),
    ({'weight_sampling': 'random'}, 'search.weight_sampling'),
    ({'uniform_iter': -1}, 'search.uniform_iter'),
    ({'uniform_iter': 2.5}, 'search.uniform_iter'),
])
def test_bad_sampling_settings_are_named(tmp_path, search, message):
    opt = search_options('search_sampling', 6)
    opt['search'].update(search)
    with pytest.raises(ValueError, match=message):
        build_model(parsed(opt, tmp_path))


def test_a_relative_reward_takes_out_the_batch_difficulty_against_one_fixed_reference(tmp_path):
    """``reward_psnr: relative``: each controller step rewards the sample's PSNR minus the reference architecture's
    on the same batch; the reference is drawn once from the search's seed and stays; absolute leaves PSNR as is."""
    difficulty = [10.0, 30.0, 20.0, 40.0, 25.0, 35.0]  # the batches' PSNR levels, dBs apart

    def run(reward_psnr):
        opt = search_options(f'search_{reward_psnr}', 6)
        opt['search'].update(reward_psnr=reward_psnr, controller_steps=3)
        opt['manual_seed'] = 3
        model = build_model(parsed(opt, tmp_path))
        model._controller_loader = lambda: ({'lq': torch.full((1, 3, 12, 12), level), 'gt': torch.rand(1, 3, 24, 24)}
                                            for level in difficulty)

        def evaluate(genotype, lq, gt):  # the batch's level plus 0.1 dB per conv edge of the normal cell
            seen.append(genotype)
            return float(lq[0, 0, 0, 0]) + 0.1 * sum('conv' in op for op, _ in genotype.normal), 0.0
        seen, rewarded = [], []
        model.evaluate = evaluate
        model.joint_reward = lambda psnr, cost, entropy, lam: rewarded.append(psnr) or psnr
        model.train_controller()
        model.train_controller()
        return model, seen, rewarded

    model, seen, rewarded = run('relative')
    assert model.reference == space.random_genotype(3, random.Random('reference-3'))
    samples, references = seen[0::2], seen[1::2]
    assert references == [model.reference] * 6 and samples != references
    convs = [sum('conv' in op for op, _ in g.normal) for g in samples]
    ref_convs = sum('conv' in op for op, _ in model.reference.normal)
    assert rewarded == pytest.approx([0.1 * (c - ref_convs) for c in convs])  # no trace of the 10-40 dB levels
    assert model.search_log['psnr_ref'] == pytest.approx((40 + 25 + 35) / 3 + 0.1 * ref_convs)  # the last round's
    assert model.search_log['psnr_c'] == pytest.approx((40 + 25 + 35) / 3 + 0.1 * sum(convs[3:]) / 3)  # as before

    model, seen, rewarded = run('absolute')
    assert model.reference is None and len(seen) == 6  # one evaluation per step, as before
    assert rewarded == pytest.approx([level + 0.1 * sum('conv' in op for op, _ in g.normal)
                                      for level, g in zip(difficulty, seen)])


def test_a_resume_keeps_the_runs_reference_and_refuses_another_reward(tmp_path):
    """The reference is the run's own after a resume, even when manual_seed is drawn anew; a resume with the other
    reward_psnr is refused (its baseline averages rewards of the other kind)."""
    from hnas_basicsr.cli import ToolError
    opt = search_options('search_relative_resume', 6)
    opt['search']['reward_psnr'] = 'relative'
    model = build_model(parsed(opt, tmp_path))
    model.save_training_state(epoch=0, current_iter=3)
    state = torch.load(tmp_path / '3.state', weights_only=False)

    reseeded = search_options('search_relative_resume', 6)
    reseeded['search']['reward_psnr'] = 'relative'
    reseeded['manual_seed'] = 7
    resumed = build_model(parsed(reseeded, tmp_path))
    assert resumed.reference != model.reference  # another seed, another reference ...
    resumed.resume_training(state)
    assert resumed.reference == model.reference  # ... until the run's own is restored

    absolute = build_model(parsed(search_options('search_relative_resume', 6), tmp_path))
    with pytest.raises(ToolError, match='search.reward_psnr: the run to resume rewarded relative PSNR, these options '
                                        'absolute'):
        absolute.resume_training(state)
