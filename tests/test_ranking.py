"""Kendall tau-b and Spearman rho of hnas_basicsr.nas.ranking, against hand-counted cases."""
import math

import pytest

from hnas_basicsr.nas.ranking import kendall_tau, ranks, spearman_rho


def test_hand_counted_example():
    x, y = [1, 2, 3, 4, 5], [3, 1, 2, 5, 4]
    # pairs: 7 concordant, 3 discordant -> (7 - 3) / 10; rank differences -2, 1, 1, -1, 1 -> 1 - 6 * 8 / (5 * 24)
    assert kendall_tau(x, y) == pytest.approx(0.4)
    assert spearman_rho(x, y) == pytest.approx(0.6)


def test_order_only():
    x = [30.1, 30.5, 29.8, 31.0]
    assert kendall_tau(x, [v ** 3 for v in x]) == pytest.approx(1.0)
    assert spearman_rho(x, [-v for v in x]) == pytest.approx(-1.0)


def test_ties():
    assert ranks([5, 1, 5, 3]) == [3.5, 1.0, 3.5, 2.0]
    # tau-b: 5 concordant, 0 discordant, one pair tied in x only: 5 / sqrt((5 + 1) * 5)
    assert kendall_tau([1, 1, 2, 3], [1, 2, 3, 4]) == pytest.approx(5 / math.sqrt(30))
    assert math.isnan(kendall_tau([1, 1, 1], [1, 2, 3]))
    assert math.isnan(spearman_rho([1, 2, 3], [2, 2, 2]))


@pytest.mark.parametrize('x, y', [([1, 2], [1]), ([1], [1])])
def test_bad_lengths(x, y):
    with pytest.raises(ValueError, match='rank correlation'):
        kendall_tau(x, y)
    with pytest.raises(ValueError, match='rank correlation'):
        spearman_rho(x, y)
