"""Does lambda steer cost, and what does the controller add over random search? Measured on the demo search.

Usage: python bench/search_quality.py [--total-iter 400] [--samples 20]

Runs the demo search (options/hnas_search.yml, default data) four times with the same budget and seed:
controller at lambda 0.2 and 0.9, and controller vs random strategy at lambda 0.6; then derives each
(tools/derive.py: --samples architectures, scored on the controller split with the supernet's weights)
and prints the best architecture of each run: its position, supernet PSNR, multiply-adds (64 channels,
480x480 LR input) and reward. Runs are resumable (--auto_resume); results go to results/bench_search/.
"""
import argparse
import csv
import os
import subprocess
import sys
import time
from os import path as osp

import yaml

ROOT = osp.abspath(osp.join(osp.dirname(__file__), osp.pardir))
RUNS = [('lambda02', 0.2, 'controller'), ('lambda09', 0.9, 'controller'), ('lambda06', 0.6, 'controller'),
        ('lambda06_random', 0.6, 'random')]


def run(args):
    print('$ ' + ' '.join(args), flush=True)
    subprocess.run([sys.executable] + args, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--total-iter', type=int, default=400)
    parser.add_argument('--samples', type=int, default=20)
    args = parser.parse_args()
    rows = []
    for tag, lam, strategy in RUNS:
        name = f'bench_search_{tag}'
        out = osp.join('results', 'bench_search', tag)
        os.makedirs(osp.join(ROOT, out), exist_ok=True)
        with open(osp.join(ROOT, 'options', 'hnas_search.yml')) as f:
            opt = yaml.safe_load(f)
        opt['name'] = name
        opt['search'].update({'lambda': lam, 'strategy': strategy})
        opt['train']['total_iter'] = args.total_iter
        for key in ('scheduler', 'scheduler_c'):
            opt['train'][key]['periods'] = [args.total_iter]
        opt['val']['val_freq'] = 10 * args.total_iter  # validate once, at the end
        opt_file = osp.join(out, 'search.yml')
        with open(osp.join(ROOT, opt_file), 'w') as f:
            yaml.safe_dump(opt, f, sort_keys=False)
        start = time.time()
        run(['hnas_basicsr/train.py', '-opt', opt_file, '--auto_resume'])
        minutes = (time.time() - start) / 60
        run(['tools/derive.py', '-opt', opt_file, '--experiment', f'experiments/{name}', '--out', out,
             '--samples', str(args.samples), '--top-k', '1'])
        with open(osp.join(ROOT, out, 'ranking.csv')) as f:
            table = list(csv.DictReader(f))
        best = table[0]
        mean_gmacs = sum(float(r['gmacs']) for r in table) / len(table)
        rows.append((tag, lam, strategy, minutes, best, mean_gmacs))
    print(f'\nDemo search, {args.total_iter} weight steps each; best of {args.samples} samples (+ greedy for the '
          'controller), ranked by the run\'s own reward; cost: 64 channels, 480x480 LR input')
    print('| run | lambda | strategy | search min | best: position | PSNR (dB) | G multiply-adds | reward | '
          'mean G multiply-adds of samples |')
    print('|---|---|---|---|---|---|---|---|---|')
    for tag, lam, strategy, minutes, best, mean_gmacs in rows:
        print(f"| {tag} | {lam} | {strategy} | {minutes:.1f} | {best['position']} | {float(best['psnr_db']):.2f} | "
              f"{float(best['gmacs']):.1f} | {float(best['reward']):.3f} | {mean_gmacs:.1f} |")


if __name__ == '__main__':
    main()
