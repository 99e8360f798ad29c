"""Reward R = lam * PSNR - (1 - lam) * Cost and the moving-average baseline."""
import math

import pytest

from hnas_basicsr.nas.reward import MovingAverageBaseline, reward


def test_reward_is_lam_psnr_minus_one_minus_lam_scaled_cost():
    assert reward(30.0, 2e9, 0.6, 1e9) == pytest.approx(0.6 * 30.0 - 0.4 * 2.0)


def test_cost_scale_sets_the_unit_of_cost():
    assert reward(30.0, 2e9, 0.5, 1e9) == pytest.approx(reward(30.0, 2e6, 0.5, 1e6))


def test_lam_one_ignores_cost():
    assert reward(31.5, 1e9, 1.0, 1e9) == reward(31.5, 5e12, 1.0, 1e9) == 31.5


def test_lam_zero_ignores_psnr():
    assert reward(20.0, 3e9, 0.0, 1e9) == reward(40.0, 3e9, 0.0, 1e9) == pytest.approx(-3.0)


@pytest.mark.parametrize('lam, cost_scale', [(-0.1, 1e9), (1.1, 1e9), (0.5, 0), (0.5, -1e9)])
def test_reward_rejects_lam_outside_unit_interval_and_non_positive_cost_scale(lam, cost_scale):
    with pytest.raises(ValueError):
        reward(30.0, 1e9, lam, cost_scale)


def test_baseline_is_none_before_the_first_update():
    assert MovingAverageBaseline().value is None


def test_first_update_sets_the_baseline_to_the_value_with_zero_advantage():
    baseline = MovingAverageBaseline(0.95)
    assert baseline.update(12.5) == 0.0
    assert baseline.value == 12.5


def test_later_updates_decay_the_baseline_and_return_the_advantage():
    baseline = MovingAverageBaseline(0.9)
    baseline.update(10.0)
    advantage = baseline.update(20.0)
    assert baseline.value == pytest.approx(0.9 * 10.0 + 0.1 * 20.0)
    assert advantage == pytest.approx(20.0 - 11.0)


def test_state_dict_round_trip_restores_the_baseline():
    baseline = MovingAverageBaseline(0.8)
    for value in (1.0, 4.0, -2.0):
        baseline.update(value)
    restored = MovingAverageBaseline(0.8)
    restored.load_state_dict(baseline.state_dict())
    assert restored.value == baseline.value
    assert restored.update(3.0) == baseline.update(3.0)


def test_state_dict_holds_plain_values():
    baseline = MovingAverageBaseline()
    assert baseline.state_dict() == {'value': None}
    baseline.update(2)
    assert type(baseline.state_dict()['value']) is float


@pytest.mark.parametrize('value', [math.nan, math.inf, -math.inf])
def test_non_finite_value_raises_and_leaves_the_baseline_unchanged(value):
    baseline = MovingAverageBaseline()
    baseline.update(5.0)
    with pytest.raises(ValueError):
        baseline.update(value)
    assert baseline.value == 5.0


@pytest.mark.parametrize('decay', [-0.1, 1.0])
def test_decay_outside_zero_one_is_rejected(decay):
    with pytest.raises(ValueError):
        MovingAverageBaseline(decay)
