"""How much of the controller's reward is the batch and how much the architecture: absolute against relative PSNR.

Each controller step rewards one sampled architecture with its supernet PSNR on one batch of the controller split.
This script takes a finished search's supernet and scores ``--archs`` architectures (uniform over the search's
space, seeded) and the reference architecture of ``search.reward_psnr: relative`` on the same ``--batches`` batches,
drawn as the search draws them (its batch size, random crops and flips). Printed, in dB:

- across batches: the standard deviation of one architecture's PSNR over the batches (absolute), and of its PSNR
  minus the reference's on the same batch (relative), averaged over the architectures;
- across architectures: the standard deviation of the architectures' mean PSNR over all batches (the signal the
  controller should follow);
- the signal-to-noise ratio of one controller step, signal / noise, for both rewards.

With ``--controller`` the architectures are that search's controller's samples (its newest checkpoint, seeded)
instead of uniform ones, and a second table gives the spread across them of each term of the joint reward at the
search's lambda: lambda * PSNR (the architectures' mean PSNR, absolute or relative as the search rewarded it),
(1 - lambda) * Cost, and the entropy bonus. It needs a controller search at one lambda. The term
with the largest spread is what the controller's policy gradient mostly follows.

Usage: python bench/reward_noise.py [--experiment experiments/search_quality_rand06s1cap2]
       [-opt results/search_quality/rand06s1cap2/search.yml] [--batches 50] [--archs 8] [--seed 0] [--controller]
"""
import argparse
import random
import statistics
import sys
from os import path as osp

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

import torch  # noqa: E402
from same_budget import ROOT  # noqa: E402

from hnas_basicsr.cli import load_yaml  # noqa: E402
from hnas_basicsr.data.hnas_split_dataset import controller_split  # noqa: E402
from hnas_basicsr.nas import space  # noqa: E402
from hnas_basicsr.objective import SearchObjective, build_controllers, search_options  # noqa: E402
from hnas_basicsr.networks import build, load_weights  # noqa: E402
from hnas_basicsr.runtime import resolve_paths  # noqa: E402
from hnas_basicsr.tools.derive import latest_checkpoints, load_network, weight_batches  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--experiment', default='experiments/search_quality_rand06s1cap2')
    parser.add_argument('-opt', default='results/search_quality/rand06s1cap2/search.yml')
    parser.add_argument('--batches', type=int, default=50)
    parser.add_argument('--archs', type=int, default=8)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--controller', action='store_true',
                        help="the controller's samples instead of uniform architectures, and the reward terms' spread")
    args = parser.parse_args()
    opt = load_yaml(osp.join(ROOT, args.opt))
    resolve_paths(opt, ROOT)
    if osp.basename(osp.normpath(args.experiment)) != opt['name']:
        parser.error(f"-opt {args.opt} is the option file of experiments/{opt['name']}, not of {args.experiment}: "
                     'pass the search.yml of that search')
    searched = search_options(opt)
    if args.controller and searched['strategy'] != 'controller':
        parser.error(f'--controller: {args.experiment} is a random search (search.strategy: random in {args.opt}): '
                     'it has no trained controller to sample from')
    if args.controller and isinstance(searched['lambda'], list) and len(searched['lambda']) > 1:
        parser.error(f'--controller: {args.experiment} searched several lambdas at once (one controller each); '
                     'this script reads a search at one lambda')
    search = dict(searched, reward_psnr='relative', strategy='controller')  # (its reference)
    net_g_path, net_c_path = latest_checkpoints(osp.join(ROOT, args.experiment))
    supernet = load_network(opt['network_g'], net_g_path, 'network_g')
    objective = SearchObjective(search, supernet.hparams)
    reference = objective.reference(opt.get('manual_seed') or 0)
    if args.controller:
        controller = load_weights(build_controllers(lambda o: build(o, 'network_c'), opt['network_c'], search),
                                  net_c_path).eval()
        generator = torch.Generator().manual_seed(args.seed)
        with torch.no_grad():
            samples = [controller.sample(generator=generator) for _ in range(args.archs)]
        archs = [sample.genotype for sample in samples]
    else:
        rng = random.Random(args.seed)
        archs = [space.random_genotype(objective.num_layers, rng, search['max_identity']) for _ in range(args.archs)]
    batches = weight_batches(dict(opt, datasets={'train': controller_split(opt['datasets']['train'])}),
                             args.batches, args.seed)
    ref = [objective.psnr(supernet, reference, lq, gt) for lq, gt in batches]
    absolute = [[objective.psnr(supernet, g, lq, gt) for lq, gt in batches] for g in archs]
    relative = [[p - r for p, r in zip(row, ref)] for row in absolute]
    signal = statistics.stdev(statistics.mean(row) for row in absolute)
    print(f"{args.experiment}: {args.archs} {'controller-sampled' if args.controller else 'uniform'} "
          f'architectures and the reference, {args.batches} controller-split '
          f"batches of {opt['datasets']['train']['batch_size_per_gpu']} ({opt['datasets']['train']['gt_size']}x"
          f"{opt['datasets']['train']['gt_size']} GT crops), supernet PSNR on Y (dB)")
    print(f'reference PSNR over the batches: mean {statistics.mean(ref):.3f}, sd {statistics.stdev(ref):.3f}')
    print('| reward PSNR | sd over batches (noise of one step) | sd of the architectures\' means (signal) | '
          'signal / noise |')
    print('|---|---|---|---|')
    for name, rows in (('absolute', absolute), ('relative', relative)):
        noise = statistics.mean(statistics.stdev(row) for row in rows)
        print(f'| {name} | {noise:.3f} | {signal:.3f} | {signal / noise:.3f} |')
    if args.controller:
        lam, kind = objective.lambdas[0], searched['reward_psnr']
        rows = relative if kind == 'relative' else absolute
        terms = {f'{lam} * PSNR ({kind}, architecture mean)': [lam * statistics.mean(row) for row in rows],
                 f'{1 - lam:g} * Cost': [(1 - lam) * objective.cost(g) for g in archs],
                 'entropy bonus': [objective.entropy_bonus(sample.entropy) for sample in samples]}
        print(f'\nreward terms across the {args.archs} samples (lambda {lam}, Cost in units of '
              f"{search['cost_unit']} G multiply-adds)\n| term | mean | sd across the samples |\n|---|---|---|")
        for name, values in terms.items():
            print(f'| {name} | {statistics.mean(values):.3f} | {statistics.stdev(values):.4f} |')


if __name__ == '__main__':
    main()
