"""The non-dominated set of (PSNR, cost) points."""
import random

from hnas_basicsr.nas.pareto import non_dominated


def test_the_front_keeps_exactly_the_points_nothing_beats():
    points = [(30.0, 5.0), (31.0, 9.0), (29.0, 6.0), (31.0, 8.0), (28.0, 1.0), (30.0, 5.0), (27.0, 2.0)]
    # (29, 6) loses to (30, 5); (31, 9) to (31, 8); (27, 2) to (28, 1); the second (30, 5) repeats the first
    assert non_dominated(points) == [4, 0, 3]


def test_every_point_off_the_front_is_dominated_by_one_on_it():
    rng = random.Random(0)
    points = [(rng.uniform(30, 32), rng.uniform(0, 10)) for _ in range(200)]
    front = non_dominated(points)
    assert 1 < len(front) < 200
    costs = [points[i][1] for i in front]
    psnrs = [points[i][0] for i in front]
    assert costs == sorted(costs) and psnrs == sorted(psnrs)  # along the front: more cost buys more PSNR
    for i, (psnr, cost) in enumerate(points):
        if i not in front:
            assert any(points[j][0] >= psnr and points[j][1] <= cost for j in front)
