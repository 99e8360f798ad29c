"""Does every architecture of the space train? Published and random genotypes, with and without the bicubic skip.

Every network is an x2 HNASNet at 16 features, trained from scratch with the same-budget CPU schedule
(options/compare/train_same_budget_x2.yml: T91 + General100, 1000 iterations of batch 16, 48x48 HR patches,
Adam with cosine 1e-3 -> 1e-5, L1), in up to three settings: with ``global_skip: bicubic`` ('skip'), with it and
``cell_residual: true`` ('residual', the search's setting) and as in the paper, without either ('plain').
tools/benchmark.py then scores every trained network and bicubic on Set5 and Set14 (Y, crop 2).

Usage (resumable: trained networks are kept; time-box it with --only)::

    python bench/trainability.py                       # HNAS-A/B/C and random0..random6, every setting
    python bench/trainability.py --only HNAS-B --settings plain --total-iter 3000

Writes results/trainability/{table.md,benchmark.csv,train_seconds.json}; each row says how far above bicubic it is.
"""
import argparse
import csv
import json
import os
import random
import sys
from os import path as osp

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

import yaml  # noqa: E402
from same_budget import PROXY_FEAT, ROOT, SHARED, TRAIN_OPT, run, train_options  # noqa: E402

from hnas_basicsr.nas import space  # noqa: E402
from hnas_basicsr.nas.genotype import published_genotypes  # noqa: E402

OUT = 'results/trainability'
SETTINGS = {'skip': dict(global_skip='bicubic'), 'residual': dict(global_skip='bicubic', cell_residual=True),
            'plain': dict(global_skip=None)}  # network_g options of each setting


def genotypes(num_random):
    named = {name.replace('_', '-'): g for name, g in published_genotypes().items()}
    named.update({f'random{k}': space.random_genotype(12, random.Random(k)) for k in range(num_random)})
    return named


def network(genotype, setting):
    return {'type': 'HNASNet', 'genotype': genotype.to_dict(), 'num_feat': PROXY_FEAT, 'num_layers': 12, 'upscale': 2,
            **SETTINGS[setting]}


def gains_table(out):
    """table.md: every row of the benchmark with its gain over bicubic on each set."""
    with open(osp.join(ROOT, out, 'benchmark.csv')) as f:
        rows = list(csv.DictReader(f))
    sets = [k[:-5] for k in rows[0] if k.endswith(' PSNR')]
    bicubic = next(r for r in rows if r['Model'] == 'Bicubic')
    head = ['Model', 'G multiply-adds (16 feat)'] + [f'{s} PSNR (gain over bicubic)' for s in sets]
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for row in rows:
        gains = [float(row[f'{s} PSNR']) - float(bicubic[f'{s} PSNR']) for s in sets]
        lines.append('| ' + ' | '.join([row['Model'], row['Mult-Adds (G)']] + [
            f'{row[f"{s} PSNR"]} ({g:+.2f})' for s, g in zip(sets, gains)]) + ' |')
    with open(osp.join(ROOT, out, 'table.md'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    print('\n'.join(lines))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--random', type=int, default=7, help='random genotypes (seeds 0..N-1)')
    parser.add_argument('--settings', nargs='+', default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument('--only', nargs='+', help='train only these genotypes (e.g. HNAS-B random3)')
    parser.add_argument('--total-iter', type=int, help='iterations (default: the schedule file\'s)')
    parser.add_argument('--out', default=OUT)
    args = parser.parse_args()
    data = [osp.join(SHARED, 'train', 'T91'), osp.join(SHARED, 'train', 'General100')]
    run('prepare training data', ['tools/prepare_data.py', *data, '--scales', '2', '--workers', '2'])
    for name in ('Set5', 'Set14'):
        run(f'prepare {name}', ['tools/prepare_data.py', osp.join(SHARED, 'test', name), '--no-sub-images'])
    with open(osp.join(ROOT, TRAIN_OPT)) as f:
        base = yaml.safe_load(f)
    if args.total_iter:
        base['train']['total_iter'] = base['train']['scheduler']['periods'][0] = args.total_iter
    suffix = f'_{args.total_iter}it' if args.total_iter else ''
    os.makedirs(osp.join(ROOT, args.out, 'options'), exist_ok=True)
    times_file = osp.join(ROOT, args.out, 'train_seconds.json')
    seconds = json.load(open(times_file)) if osp.isfile(times_file) else {}
    for setting in args.settings:
        for name, genotype in genotypes(args.random).items():
            if args.only and name not in args.only:
                continue
            label = f'{name} {setting}{suffix}'
            opt = train_options(base, f'trainability_{name}_{setting}{suffix}', network(genotype, setting))
            option_file = osp.join(args.out, 'options', f'{opt["name"]}.yml')
            with open(osp.join(ROOT, option_file), 'w') as f:
                yaml.safe_dump(opt, f, sort_keys=False)
            if osp.isfile(osp.join(ROOT, 'experiments', opt['name'], 'models', 'net_g_latest.pth')):
                continue
            seconds[label] = run(f'train {label}', ['hnas_basicsr/train.py', '-opt', option_file, '--auto_resume'])
            with open(times_file, 'w') as f:
                json.dump(seconds, f, indent=1)
    trained = {}  # every trained network in the output folder, also those of earlier runs
    for option_file in sorted(os.listdir(osp.join(ROOT, args.out, 'options'))):
        with open(osp.join(ROOT, args.out, 'options', option_file)) as f:
            name = yaml.safe_load(f)['name']
        if osp.isfile(osp.join(ROOT, 'experiments', name, 'models', 'net_g_latest.pth')):
            trained[name.replace('same_budget_trainability_', '').replace('_x2', '')] = osp.join(
                args.out, 'options', option_file)
    run('benchmark', ['tools/benchmark.py', '-opt', *trained.values(), '--labels', *trained, '--sets',
                      'datasets/Set5', 'datasets/Set14', '--out', args.out, '--runs', '1'])
    gains_table(args.out)


if __name__ == '__main__':
    main()
