"""HNASController: valid samples, consistent log-probs, reproducibility, gradients, REINFORCE on a toy reward."""
import math

import pytest
import torch
from basicsr.archs import build_network
from basicsr.utils.registry import ARCH_REGISTRY

from hnas_basicsr.archs.hnas_controller_arch import HNASController
from hnas_basicsr.nas import space
from hnas_basicsr.nas.genotype import Genotype
from hnas_basicsr.nas.reward import MovingAverageBaseline


def make(num_layers=6, hidden_size=16, **kwargs):
    torch.manual_seed(0)
    return HNASController(num_layers=num_layers, hidden_size=hidden_size, **kwargs)


def seeded(seed):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize('num_layers', [1, 4, 12])
def test_sampled_genotype_is_valid(num_layers):
    controller = make(num_layers)
    for seed in range(5):
        genotype = controller.sample(generator=seeded(seed)).genotype
        assert Genotype.from_dict(genotype.to_dict(), num_layers) == genotype


@pytest.mark.parametrize('num_layers', [3, 12])
def test_one_index_per_space_decision_within_its_size(num_layers):
    sample = make(num_layers).sample(generator=seeded(0))
    decisions = space.decisions(num_layers)
    assert len(sample.indices) == len(decisions)
    assert all(0 <= index < d.size for index, d in zip(sample.indices, decisions))
    assert space.decode(sample.indices, num_layers) == sample.genotype


def test_sample_log_prob_and_entropy_equal_teacher_forced_ones():
    controller = make()
    sample = controller.sample(generator=seeded(1))
    log_prob, entropy = controller.log_prob(sample.genotype)
    assert sample.log_prob.dim() == 0 and sample.entropy.dim() == 0
    assert torch.allclose(sample.log_prob, log_prob) and torch.allclose(sample.entropy, entropy)


def test_log_prob_accepts_a_genotype_mapping():
    controller = make()
    genotype = controller.sample(generator=seeded(2)).genotype
    assert torch.allclose(controller.log_prob(genotype.to_dict())[0], controller.log_prob(genotype)[0])


def test_entropy_is_positive_and_below_the_maximum():
    num_layers = 6
    entropy = make(num_layers).sample(generator=seeded(0)).entropy.item()
    assert 0 < entropy < sum(math.log(d.size) for d in space.decisions(num_layers))


def test_sampling_is_reproducible_under_the_same_seed():
    controller = make()
    assert controller.sample(generator=seeded(7)).indices == controller.sample(generator=seeded(7)).indices


def test_another_seed_gives_another_sample():
    controller = make()
    assert controller.sample(generator=seeded(7)).indices != controller.sample(generator=seeded(8)).indices


def test_greedy_sample_is_deterministic_and_ignores_the_generator():
    controller = make()
    first = controller.sample(greedy=True, generator=seeded(0))
    assert controller.sample(greedy=True, generator=seeded(1)).indices == first.indices
    assert controller.sample(greedy=True).indices == first.indices


def test_log_prob_has_gradients_in_all_three_lstm_controllers():
    controller = make()
    controller.sample(generator=seeded(0)).log_prob.backward()
    for lstm in (controller.cells['normal'].lstm, controller.cells['upsampling'].lstm, controller.network.lstm):
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in lstm.parameters())


def test_position_decision_depends_on_both_cell_controllers():
    # Two genotypes differing only in position: the cell terms cancel, leaving log p(a) - log p(b) of the
    # network-level decision, which reaches the cell controllers only through [h_N, h_U].
    controller = make()
    genotype = controller.sample(generator=seeded(0)).genotype
    other = Genotype(genotype.normal, genotype.upsampling, genotype.position % controller.num_layers + 1)
    (controller.log_prob(genotype)[0] - controller.log_prob(other)[0]).backward()
    for kind in space.CELL_KINDS:
        assert controller.cells[kind].lstm.weight_hh.grad.abs().sum() > 1e-6


def test_probabilities_are_distributions_over_positions_and_ops():
    probs = make(5).probabilities()
    assert set(probs) == {'position', 'normal.op', 'upsampling.op'}
    for key, size in (('position', 5), ('normal.op', len(space.NORMAL_OPS)), ('upsampling.op', 5)):
        assert len(probs[key]) == size and sum(probs[key]) == pytest.approx(1, abs=1e-5)


def test_tanh_constant_bounds_the_most_likely_choice():
    controller = make(4, tanh_constant=1.0)
    with torch.no_grad():
        controller.network.head.bias.copy_(torch.tensor([100., -100., -100., -100.]))
    bound = math.e / (math.e + 3 / math.e)
    assert max(controller.probabilities()['position']) == pytest.approx(bound, rel=1e-4)


def test_temperature_flattens_the_policy():
    sharp, flat = make(temperature=None), make(temperature=5.0)
    assert flat.sample(greedy=True).entropy > sharp.sample(greedy=True).entropy


@pytest.fixture
def one_thread():
    # Hundreds of tiny sequential ops: one thread is faster and unaffected by other busy cores.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_learns_a_toy_reward_with_reinforce_and_a_moving_average_baseline(one_thread):
    # Reward 1 for position 3 plus 1 for op1 of normal node 2 being 'rcab'.
    controller = make(6, hidden_size=32)
    optimizer = torch.optim.Adam(controller.parameters(), lr=5e-3)
    baseline, generator = MovingAverageBaseline(0.9), seeded(0)

    def preferred(genotype):
        return genotype.position == 3, genotype.normal[0][0][0] == 'rcab'

    for _ in range(250):
        sample = controller.sample(generator=generator)
        advantage = baseline.update(sum(preferred(sample.genotype)))
        optimizer.zero_grad()
        (-advantage * sample.log_prob).backward()
        optimizer.step()
    assert all(preferred(controller.sample(greedy=True).genotype))
    assert controller.probabilities()['position'][2] > 0.5
    with torch.no_grad():
        hits = sum(all(preferred(controller.sample(generator=generator).genotype)) for _ in range(100))
    assert hits > 50


def test_registered_and_buildable_from_plain_options():
    assert ARCH_REGISTRY.get('HNASController') is HNASController
    controller = build_network({'type': 'HNASController', 'num_layers': 6})
    assert controller.hidden_size == 100 and 1 <= controller().genotype.position <= 6


@pytest.mark.parametrize('kwargs', [{'num_layers': 0}, {'temperature': 0}, {'tanh_constant': -1.0},
                                    {'max_identity': -1}, {'max_identity': 9}, {'max_identity': True}])
def test_invalid_options_are_rejected(kwargs):
    with pytest.raises(ValueError):
        HNASController(**kwargs)


def identity_loving(max_identity):
    """A controller whose op heads all but pick identity (index 0), capped at ``max_identity``."""
    torch.manual_seed(0)
    controller = HNASController(num_layers=6, max_identity=max_identity, tanh_constant=None)
    with torch.no_grad():
        controller.cells['normal'].heads['op'].bias[0] = 50.0
    return controller


@pytest.mark.parametrize('cap', [0, 1, 3])
def test_max_identity_caps_samples_and_the_greedy_architecture(cap):
    assert space.identity_edges(identity_loving(None).sample(greedy=True).genotype) == 8
    controller = identity_loving(cap)
    assert space.identity_edges(controller.sample(greedy=True).genotype) == cap
    generator = torch.Generator().manual_seed(1)
    for _ in range(20):
        sample = controller.sample(generator=generator)
        assert space.identity_edges(sample.genotype) == cap  # identity as long as allowed, then never
        assert math.isfinite(sample.entropy.item()) and math.isfinite(sample.log_prob.item())
        log_prob, entropy = controller.log_prob(sample.genotype)  # the masked policy, teacher-forced alike
        assert log_prob.item() == pytest.approx(sample.log_prob.item(), abs=1e-4)
        assert entropy.item() == pytest.approx(sample.entropy.item(), abs=1e-4)
    log_prob, _ = controller.log_prob(controller.sample(generator=generator).genotype)
    log_prob.backward()
    assert all(torch.isfinite(p.grad).all() for p in controller.parameters() if p.grad is not None)


def test_max_identity_refuses_to_score_a_genotype_above_the_cap():
    genotype = identity_loving(None).sample(greedy=True).genotype
    with pytest.raises(ValueError, match='8 identity edges in its normal cell; this controller samples at most 2'):
        identity_loving(2).log_prob(genotype)
