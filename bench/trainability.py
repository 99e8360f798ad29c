"""Does every architecture of the space train? Published and random genotypes, with and without the bicubic skip.

Every network is an x2 HNASNet at 16 features, trained from scratch with the same-budget CPU schedule
(options/compare/train_same_budget_x2.yml: T91 + General100, 1000 iterations of batch 16, 48x48 HR patches,
Adam with cosine 1e-3 -> 1e-5, L1), in up to three settings: with ``global_skip: bicubic`` ('skip'), with it and
``cell_residual: true`` ('residual', the search's setting) and as in the paper, without either ('plain').
tools/benchmark.py then scores every trained network and bicubic on Set5 and Set14 (Y, crop 2). The random
genotypes are uniform draws (seeds 0, 1, ...) within a cost bound (``--max-gmacs``, default 100 G at 16 features,
about 3x HNAS-C): 87% of uniform draws hold a UDPB op and cost 4-19x HNAS-A, 1-5 hours of training each here.

Usage (resumable: trained networks are kept; time-box it with --only)::

    python bench/trainability.py                       # HNAS-A/B/C and 7 random genotypes, every setting
    python bench/trainability.py --only HNAS-B --settings plain --total-iter 3000
    python bench/trainability.py --settings residual --genotype pick=derived/rank1/genotype.yml --only pick
    python bench/trainability.py --settings residual --only HNAS-C --seed 1   # the spread between training seeds

Writes results/trainability/train_seconds.json and, per set of settings (e.g. results/trainability/residual/),
table.md and benchmark.csv of every network trained in them; each row says how far above bicubic it is.
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
from same_budget import (PROXY_FEAT, ROOT, SETTINGS, TRAIN_OPT, hnas_network, hnas_tag, prepare_data, run,  # noqa: E402
                         train_options)

from hnas_basicsr.cli import load_yaml  # noqa: E402
from hnas_basicsr.nas import space  # noqa: E402
from hnas_basicsr.nas.cost import DEFAULT_LR_SIZE, PathCostTable  # noqa: E402
from hnas_basicsr.nas.genotype import Genotype, published_genotypes  # noqa: E402

OUT = 'results/trainability'
MAX_GMACS = 100  # random genotypes above it are skipped: 87% of uniform draws, 4-19x HNAS-A's cost, 1-5 h each here


def seeded_genotype(seed):
    """The genotype named 'random<seed>': ``space.random_genotype`` of an x2, 12-layer network drawn with ``seed``."""
    return space.random_genotype(12, random.Random(seed))


def random_genotypes(count, max_gmacs=MAX_GMACS):
    """'random<seed>' -> the genotype ``space.random_genotype`` draws with seed 0, 1, ...: the first ``count`` of them
    that cost at most ``max_gmacs`` G multiply-adds at 16 features for a 480x480 LR input (0: no bound)."""
    table = PathCostTable(PROXY_FEAT, 12, 2, 3, 3, DEFAULT_LR_SIZE)
    named, seed = {}, 0
    while len(named) < count:
        genotype = seeded_genotype(seed)
        if not max_gmacs or table.cost(genotype).macs <= max_gmacs * 1e9:
            named[f'random{seed}'] = genotype
        seed += 1
    return named


def genotypes(num_random, extra=(), max_gmacs=MAX_GMACS):
    """Name -> genotype: the published ones, :func:`random_genotypes` and ``extra`` (NAME=FILE strings)."""
    named = {name.replace('_', '-'): g for name, g in published_genotypes().items()}
    named.update(random_genotypes(num_random, max_gmacs))
    for item in extra:
        name, _, file = item.partition('=')
        if not name or not file:
            sys.exit(f'trainability: --genotype expects NAME=FILE, got {item!r}')
        named[name] = Genotype.from_dict(load_yaml(file))
    return named


def benchmark_folder(out, settings):
    """Where the benchmark of the networks trained in ``settings`` goes: <out>/<setting>[+<setting>...]."""
    return osp.join(out, '+'.join(sorted(settings)))


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
    parser.add_argument('--random', type=int, default=7, help='random genotypes (the first N seeds within the bound)')
    parser.add_argument('--max-gmacs', type=float, default=MAX_GMACS, help='bound on a random genotype\'s G '
                        'multiply-adds at 16 features, 480x480 LR (default %(default)s; 0: none)')
    parser.add_argument('--settings', nargs='+', default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument('--genotype', nargs='+', default=[], metavar='NAME=FILE',
                        help='more genotypes to train (a genotype.yml as derive writes it)')
    parser.add_argument('--only', nargs='+', help='train only these genotypes (e.g. HNAS-B random3)')
    parser.add_argument('--total-iter', type=int, help='iterations (default: the schedule file\'s)')
    parser.add_argument('--seed', type=int, help='training seed (default: the schedule file\'s); names get _seed<N>')
    parser.add_argument('--out', default=OUT)
    parser.add_argument('--benchmark-only', action='store_true', help='train nothing; benchmark what is trained')
    args = parser.parse_args()
    prepare_data()
    with open(osp.join(ROOT, TRAIN_OPT)) as f:
        base = yaml.safe_load(f)
    if args.total_iter:
        base['train']['total_iter'] = base['train']['scheduler']['periods'][0] = args.total_iter
    suffix = f'_{args.total_iter}it' if args.total_iter else ''
    if args.seed is not None:
        base['manual_seed'] = args.seed
        suffix += f'_seed{args.seed}'
    os.makedirs(osp.join(ROOT, args.out, 'options'), exist_ok=True)
    times_file = osp.join(ROOT, args.out, 'train_seconds.json')
    seconds = json.load(open(times_file)) if osp.isfile(times_file) else {}
    for setting in args.settings:
        for name, genotype in genotypes(args.random, args.genotype, args.max_gmacs).items():
            if args.only and name not in args.only:
                continue
            label = f'{name} {setting}{suffix}'
            opt = train_options(base, hnas_tag(name, setting) + suffix, hnas_network(genotype, setting))
            option_file = osp.join(args.out, 'options', f'{opt["name"]}.yml')
            with open(osp.join(ROOT, option_file), 'w') as f:
                yaml.safe_dump(opt, f, sort_keys=False)
            if args.benchmark_only or osp.isfile(osp.join(ROOT, 'experiments', opt['name'], 'models',
                                                          'net_g_latest.pth')):
                continue
            seconds[label] = run(f'train {label}', ['hnas_basicsr/train.py', '-opt', option_file, '--auto_resume'])
            with open(times_file, 'w') as f:
                json.dump(seconds, f, indent=1)
    trained = {}  # every trained network of these settings in the output folder, also those of earlier runs
    for option_file in sorted(os.listdir(osp.join(ROOT, args.out, 'options'))):
        with open(osp.join(ROOT, args.out, 'options', option_file)) as f:
            name = yaml.safe_load(f)['name']
        label = name.replace('same_budget_trainability_', '').replace('_x2', '')
        if osp.isfile(osp.join(ROOT, 'experiments', name, 'models', 'net_g_latest.pth')) and \
                any(f'_{setting}' in label for setting in args.settings):
            trained[label] = osp.join(args.out, 'options', option_file)
    out = benchmark_folder(args.out, args.settings)
    run('benchmark', ['tools/benchmark.py', '-opt', *trained.values(), '--labels', *trained, '--sets',
                      'datasets/Set5', 'datasets/Set14', '--out', out, '--runs', '1', '--reuse'])
    gains_table(out)


if __name__ == '__main__':
    main()
