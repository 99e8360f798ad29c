"""The non-dominated (Pareto) set of scored architectures: higher PSNR and lower cost are better. No torch."""


def non_dominated(points):
    """Indices of the ``(psnr, cost)`` points that no other point dominates (at least as high a PSNR at no higher
    cost, one of them strictly), ordered by cost; of equal points the first is kept."""
    front = []
    for i, (psnr, cost) in enumerate(points):
        dominated = any((p >= psnr and c <= cost and (p > psnr or c < cost)) or ((p, c) == (psnr, cost) and j < i)
                        for j, (p, c) in enumerate(points) if j != i)
        if not dominated:
            front.append(i)
    return sorted(front, key=lambda i: (points[i][1], -points[i][0]))
