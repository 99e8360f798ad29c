"""The supernet weight step of bench/fast_ops.py (a) timed with whichever hnas_basicsr is importable, to compare
code versions: run it alternately from two checkouts (each process times one version; the processes alternate so
both see the same load), e.g. the code the issue was filed against and today's:

    git worktree add /tmp/before 7536214^
    for turn in 1 2; do
        (cd /tmp/before && python $OLDPWD/bench/step_across_versions.py --label before)
        python bench/step_across_versions.py --label now
    done

Same protocol as fast_ops.py (a): the same 8 seeded random genotypes, batch 16, 48x48 LR, C = 8, L = 12, x2,
normalised supernet, Adam; the network's default layout; one warm-up step per genotype, then the median of 3.
Printed: one line per genotype and the sum of the medians, with the commit being timed.
"""
import argparse
import random
import statistics
import subprocess
import sys
import time
from os import path as osp

sys.path.insert(0, osp.abspath('.'))  # the checkout the process runs in, not this file's

import hnas_basicsr  # noqa: E402,F401  (registers the plugin; before basicsr)
import torch  # noqa: E402
from torch.nn import functional as F  # noqa: E402

from hnas_basicsr.archs.hnas_supernet_arch import HNASSuperNet  # noqa: E402
from hnas_basicsr.nas import space  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--label', required=True)
    parser.add_argument('--archs', type=int, default=8)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--threads', type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    try:
        from hnas_basicsr.allocator import reuse_freed_memory
        reuse_freed_memory()  # as the entry points do, where the version has it
    except ImportError:
        pass
    git = lambda *cmd: subprocess.run(['git', *cmd], capture_output=True, text=True).stdout.strip()  # noqa: E731
    commit = git('rev-parse', '--short', 'HEAD') + ('+changes' if git('status', '--porcelain', '-uno') else '')
    if not hnas_basicsr.__file__.startswith(osp.abspath('.') + osp.sep):
        sys.exit(f'step_across_versions: run it from a checkout\'s root; imported {hnas_basicsr.__file__} instead')
    torch.manual_seed(0)
    lq, gt = torch.rand(16, 3, 48, 48), torch.rand(16, 3, 96, 96)
    supernet = HNASSuperNet(num_feat=8, num_layers=12, upscale=2)
    optimizer = torch.optim.Adam(supernet.parameters(), 1e-4)
    rng = random.Random(0)
    total = 0.0
    for i in range(args.archs):
        genotype = space.random_genotype(12, rng)
        times = []
        for turn in range(args.repeats + 1):
            start = time.perf_counter()
            loss = F.l1_loss(supernet(lq, genotype), gt)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if turn:
                times.append(time.perf_counter() - start)
        total += statistics.median(times)
        print(f'{args.label} ({commit}) genotype {i + 1} position {genotype.position}: '
              f'{statistics.median(times):.2f} s  {genotype.normal[0]}', flush=True)
    print(f'{args.label} ({commit}) all: {total:.2f} s')


if __name__ == '__main__':
    main()
