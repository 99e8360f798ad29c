"""Is the supernet's misranking noise or bias? Its scores across searches, against each other and averaged.

Reads the tables that bench/ranking_validity.py wrote for the given labels (results/ranking_validity/<label>/
table.csv: each genotype's supernet PSNR and stand-alone PSNR, the mean of Set5 and Set14 over the training seeds)
and prints Kendall tau between every two supernets' scores, each supernet's tau against stand-alone training and
against multiply-adds (which alone rank stand-alone training well), and the tau of the ensemble: each supernet's
scores standardised (mean 0, sd 1 over the genotypes), then averaged. If the supernets agree with each other far
better than with stand-alone training and the ensemble ranks no better than one of them, the misranking is a bias
shared by the searches, which more searches or seeds do not remove.

Usage: python bench/supernet_agreement.py uniform-c16 uniform-c16-s1 uniform-c16-s2 [--without random1]
"""
import argparse
import csv
import itertools
import statistics
import sys
from os import path as osp

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

from ranking_validity import OUT  # noqa: E402
from same_budget import ROOT  # noqa: E402

from hnas_basicsr.nas.ranking import kendall_tau  # noqa: E402


def standardised(values):
    mean, sd = statistics.mean(values), statistics.stdev(values)
    return [(v - mean) / sd for v in values]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('labels', nargs='+', help='scoring labels of bench/ranking_validity.py (at least two)')
    parser.add_argument('--without', nargs='*', default=[], help='genotypes to leave out (e.g. random1, the one '
                        'beyond the cost bound)')
    args = parser.parse_args()
    if len(args.labels) < 2:
        parser.error('give at least two labels')
    tables = {}
    for label in args.labels:
        path = osp.join(ROOT, OUT, label, 'table.csv')
        if not osp.isfile(path):
            parser.error(f'{path} does not exist: run bench/ranking_validity.py for {label} first')
        with open(path) as f:
            tables[label] = {row['name']: row for row in csv.DictReader(f) if row['name'] not in args.without}
    names = sorted(set.intersection(*(set(table) for table in tables.values())))
    scores = {label: [float(table[name]['supernet']) for name in names] for label, table in tables.items()}
    truth = [float(tables[args.labels[0]][name]['mean']) for name in names]
    macs = [float(tables[args.labels[0]][name]['gmacs']) for name in names]
    print(f'{len(names)} genotypes ({", ".join(names)}); stand-alone: the mean of Set5 and Set14 over the training '
          f'seeds\n\n| supernets | Kendall tau between their scores |\n|---|---|')
    for a, b in itertools.combinations(args.labels, 2):
        print(f'| {a} / {b} | {kendall_tau(scores[a], scores[b]):.3f} |')
    print('\n| supernet | Kendall tau against stand-alone | against multiply-adds |\n|---|---|---|')
    for label in args.labels:
        print(f'| {label} | {kendall_tau(scores[label], truth):.3f} | {kendall_tau(scores[label], macs):.3f} |')
    ensemble = [statistics.mean(column) for column in zip(*(standardised(s) for s in scores.values()))]
    print(f'| ensemble of the {len(args.labels)} (standardised scores, averaged) | '
          f'{kendall_tau(ensemble, truth):.3f} | {kendall_tau(ensemble, macs):.3f} |')
    print(f'| multiply-adds alone | {kendall_tau(macs, truth):.3f} | 1 |')


if __name__ == '__main__':
    main()
