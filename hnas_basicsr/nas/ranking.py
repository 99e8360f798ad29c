"""Rank correlation of two scorings of the same architectures (supernet PSNR against stand-alone PSNR).

Plain Python (no torch, no scipy): Kendall's tau-b and Spearman's rho, both with ties handled.
"""
import math


def _check(x, y):
    if len(x) != len(y):
        raise ValueError(f'rank correlation: {len(x)} against {len(y)} values')
    if len(x) < 2:
        raise ValueError(f'rank correlation: needs at least 2 pairs, got {len(x)}')


def kendall_tau(x, y):
    """Kendall's tau-b of the pairs (x[i], y[i]); nan when one side is constant."""
    _check(x, y)
    concordant = discordant = ties_x = ties_y = 0
    for i in range(len(x)):
        for j in range(i + 1, len(x)):
            dx, dy = x[i] - x[j], y[i] - y[j]
            if dx == 0 and dy == 0:
                continue
            if dx == 0:
                ties_x += 1
            elif dy == 0:
                ties_y += 1
            elif (dx > 0) == (dy > 0):
                concordant += 1
            else:
                discordant += 1
    denominator = math.sqrt((concordant + discordant + ties_x) * (concordant + discordant + ties_y))
    return (concordant - discordant) / denominator if denominator else math.nan


def ranks(values):
    """1-based ranks of ``values``, tied values sharing their mean rank."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    result = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for k in range(start, end + 1):
            result[order[k]] = (start + end) / 2 + 1
        start = end + 1
    return result


def spearman_rho(x, y):
    """Spearman's rho: the Pearson correlation of the ranks; nan when one side is constant."""
    _check(x, y)
    rx, ry = ranks(x), ranks(y)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    norm = math.sqrt(sum((a - mx) ** 2 for a in rx) * sum((b - my) ** 2 for b in ry))
    return cov / norm if norm else math.nan
