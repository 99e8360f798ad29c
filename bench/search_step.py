"""Search step cost: a supernet weight step vs a stand-alone HNASNet step, and the controller's share.

Usage: python bench/search_step.py [--archs 6] [--repeats 7] [--batch 8] [--lr-patch 24] [--threads 2]

For each of ``--archs`` architectures (random, seeded), one weight step (forward, L1 loss, backward,
Adam step) of the supernet on that path and of the HNASNet of the same genotype and width are timed
alternately in one process (median of ``--repeats`` after a warm-up), so both see the same machine
load; the figure is the ratio of the medians. Then one controller round is timed piece by piece:
sampling, reward (supernet forward on a batch plus the cost table) and the REINFORCE update, and its
share of a search at the cadences of the demo and of the paper setting (weight_steps weight steps
per controller_steps controller steps) is printed. Run it from the repository root.
"""
import argparse
import random
import statistics
import time

import hnas_basicsr  # noqa: F401  (registers the plugin; before basicsr)
import torch
import yaml
from torch.nn import functional as F

from hnas_basicsr.archs.hnas_controller_arch import HNASController
from hnas_basicsr.archs.hnas_supernet_arch import HNASSuperNet
from hnas_basicsr.nas import space
from hnas_basicsr.nas.cost import PathCostTable


CADENCES = ('options/hnas_search.yml', 'options/search/hnas_search_div2k_x2_lambda06.yml')


def weight_step(net, optimizer, lq, gt, **kwargs):
    start = time.perf_counter()
    loss = F.l1_loss(net(lq, **kwargs), gt)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return time.perf_counter() - start


def median_time(fn, repeats):
    fn()  # warm-up
    return statistics.median(fn() for _ in range(repeats))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--archs', type=int, default=6)
    parser.add_argument('--repeats', type=int, default=7)
    parser.add_argument('--batch', type=int, default=8)
    parser.add_argument('--lr-patch', type=int, default=24)
    parser.add_argument('--num-feat', type=int, default=8)
    parser.add_argument('--num-layers', type=int, default=12)
    parser.add_argument('--threads', type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    scale = 2
    lq = torch.rand(args.batch, 3, args.lr_patch, args.lr_patch)
    gt = torch.rand(args.batch, 3, args.lr_patch * scale, args.lr_patch * scale)
    supernet = HNASSuperNet(num_feat=args.num_feat, num_layers=args.num_layers, upscale=scale)
    super_opt = torch.optim.Adam(supernet.parameters(), 1e-4)
    print(f'weight step, batch {args.batch}, LR patch {args.lr_patch}, {args.num_feat} channels, '
          f'{args.num_layers} layers, x{scale}, {torch.get_num_threads()} threads, median of {args.repeats}')
    print('| arch | position | supernet step (s) | HNASNet step (s) | ratio |')
    print('|---|---|---|---|---|')
    rng = random.Random(0)
    super_times, plain_times = [], []
    for i in range(args.archs):
        genotype = space.random_genotype(args.num_layers, rng)
        plain = supernet.extract(genotype)
        plain_opt = torch.optim.Adam(plain.parameters(), 1e-4)
        s_times, p_times = [], []
        for _ in range(args.repeats + 1):  # alternate, so both see the same load
            s_times.append(weight_step(supernet, super_opt, lq, gt, genotype=genotype))
            p_times.append(weight_step(plain, plain_opt, lq, gt))
        s, p = statistics.median(s_times[1:]), statistics.median(p_times[1:])
        super_times.append(s)
        plain_times.append(p)
        print(f'| {i + 1} | {genotype.position} | {s:.3f} | {p:.3f} | {s / p:.3f} |')
    total_ratio = sum(super_times) / sum(plain_times)
    print(f'overall (sum of medians): supernet / HNASNet = {total_ratio:.3f} (target <= 1.15)')

    controller = HNASController(num_layers=args.num_layers)
    c_opt = torch.optim.Adam(controller.parameters(), 3e-4)
    table = PathCostTable(64, args.num_layers, scale)
    generator = torch.Generator().manual_seed(0)

    def sample():
        start = time.perf_counter()
        controller.sample(generator=generator)
        return time.perf_counter() - start

    result = controller.sample(generator=generator)

    def reward_time():
        start = time.perf_counter()
        with torch.no_grad():
            supernet(lq, result.genotype)
        table.cost(result.genotype)
        return time.perf_counter() - start

    def update():
        start = time.perf_counter()
        s = controller.sample(generator=generator)
        c_opt.zero_grad()
        (-0.1 * s.log_prob).backward()
        c_opt.step()
        return time.perf_counter() - start

    t_sample, t_reward, t_update = (median_time(f, args.repeats) for f in (sample, reward_time, update))
    t_weight = statistics.median(super_times)
    print(f'controller: sample {t_sample * 1e3:.1f} ms, reward (supernet forward + cost table) '
          f'{t_reward * 1e3:.1f} ms, sample+update {t_update * 1e3:.1f} ms; weight step {t_weight * 1e3:.0f} ms')
    for path in CADENCES:
        with open(path) as f:
            search = yaml.safe_load(f)['search']
        w, c = search['weight_steps'], search['controller_steps']
        controller_time = c * (t_reward + t_update) + w * t_sample  # each weight step samples once too
        share = controller_time / (controller_time + w * t_weight)
        print(f'controller share of search wall time at the cadence of {path} ({w} weight steps, {c} controller '
              f'steps): {100 * share:.1f} %')


if __name__ == '__main__':
    main()
