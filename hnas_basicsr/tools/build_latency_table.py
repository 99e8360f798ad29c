"""Measure a device's latency table for ``search.cost: latency``, and check its predictions on whole networks.

Usage (``hnas-build-latency-table`` is the same command)::

    python tools/build_latency_table.py -opt options/hnas_search.yml --out latency/cpu_x2.yml --check 30
    python tools/build_latency_table.py --num-feat 64 --scale 2 --lr-size 120 120 --out latency/cpu_x2.yml
    python tools/build_latency_table.py --table latency/cpu_x2.yml --check 30        # check an existing table

``-opt`` takes a search option file: the table is then for its network (``network_g``: layers, scale, skips) at
``search.cost_num_feat`` channels and a ``search.cost_lr_size`` input, as the search will ask it. Without it the
network is given by the flags (default: 64 features, 12 layers, x2, a 120x120 LR input, bicubic skip and
cell_residual). ``--check N`` times N random architectures whole (``--runs`` calls each, the median; HNAS-A/B/C
too at 12 layers) and prints the predicted latency beside the measured one, Spearman rho, Kendall tau and the mean relative error; it writes
``<out>`` with ``.check.csv`` for ``.yml``. The table holds the device, threads and torch version it was measured
with: build one per device. Errors print one line on stderr and exit with status 2.
"""
import argparse
import csv
import os
import random
import sys
from os import path as osp

import hnas_basicsr  # noqa: F401  (registers the plugin; before basicsr)
import torch
import yaml

from hnas_basicsr.cli import ToolError, load_yaml, run_tool
from hnas_basicsr.tools.benchmark import device_of
from hnas_basicsr.nas import space
from hnas_basicsr.nas.genotype import published_genotypes
from hnas_basicsr.nas.latency import LatencyTable, device_name, measure_latency_table, time_ms
from hnas_basicsr.nas.ranking import kendall_tau, spearman_rho

FLAG_DEFAULTS = dict(num_feat=64, num_layers=12, scale=2, lr_size=[120, 120], global_skip='bicubic',
                     cell_residual=True, num_in_ch=3, num_out_ch=3)


def settings_from_options(path):
    """The table's settings for the search of option file ``path``."""
    from hnas_basicsr.objective import search_options
    opt = load_yaml(path)
    if not isinstance(opt, dict) or not isinstance(opt.get('network_g'), dict):
        raise ToolError(f'{path}: not a search option file (needs network_g and search)')
    try:
        search = search_options(opt)
    except ValueError as exc:
        raise ToolError(f'{path}: {exc}') from None
    net = opt['network_g']
    return dict(num_feat=search['cost_num_feat'], num_layers=net.get('num_layers', 12), scale=net.get('upscale', 2),
                lr_size=list(search['cost_lr_size']), global_skip=net.get('global_skip'),
                cell_residual=net.get('cell_residual', False), num_in_ch=net.get('num_in_ch', 3),
                num_out_ch=net.get('num_out_ch', 3))


def build(args, device):
    settings = dict(FLAG_DEFAULTS)
    if args.opt:
        settings.update(settings_from_options(args.opt))
    given = {k: getattr(args, k) for k in FLAG_DEFAULTS if getattr(args, k, None) is not None}
    settings.update(given, **({'global_skip': None} if given.get('global_skip') == 'none' else {}))
    print(f"build_latency_table: timing every op of the space on {device} ({settings['num_feat']} features, "
          f"{settings['lr_size'][0]}x{settings['lr_size'][1]} LR input, x{settings['scale']}, "
          f"{torch.get_num_threads()} threads, median of {args.runs} runs)", flush=True)

    def progress(done, total, name):
        print(f'  [{done}/{total}] {name}', flush=True)

    table = measure_latency_table(settings['num_feat'], settings['num_layers'], settings['scale'],
                                  settings['lr_size'], device, args.runs, settings['global_skip'],
                                  settings['cell_residual'], settings['num_in_ch'], settings['num_out_ch'],
                                  progress=progress)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    with open(args.out, 'w') as f:
        yaml.safe_dump(table, f, sort_keys=False)
    print(f'build_latency_table: wrote {args.out}; use it with search.cost: latency, search.latency_table: '
          f'{args.out}', flush=True)
    return LatencyTable(table)


def check(table, count, runs, device, out, seed=0):
    """Predicted against measured latency of ``count`` random architectures (the correlations and the error are
    theirs), and of the published ones when the table is for 12 layers; returns the rows."""
    from hnas_basicsr.archs.hnas_arch import HNASNet
    t = table.table
    measured_on = device_name(device)
    if measured_on != table.device:
        print(f'build_latency_table: warning: the table was measured on {table.device}, this check times on '
              f'{measured_on}: the comparison mixes two devices', flush=True)
    rng, rows = random.Random(seed), []
    published = published_genotypes() if t['num_layers'] == 12 else {}
    genotypes = [(f'random{i}', space.random_genotype(t['num_layers'], rng)) for i in range(count)]
    x = torch.rand(1, t['num_in_ch'], *t['lr_size'], device=device)
    for i, (name, genotype) in enumerate(list(published.items()) + genotypes):
        net = HNASNet(genotype.to_dict(), t['num_in_ch'], t['num_out_ch'], t['num_feat'], t['num_layers'],
                      t['upscale'], global_skip=t['global_skip'], cell_residual=t['cell_residual'],
                      init='pytorch').to(device).eval()
        measured = time_ms(lambda: net(x), runs, device)
        rows.append(dict(name=name, position=genotype.position, predicted_ms=table.latency_ms(genotype),
                         measured_ms=measured, genotype=genotype.describe()))
        print(f"  [{i + 1}/{len(published) + count}] {name:>8}: predicted {rows[-1]['predicted_ms']:8.1f} ms, "
              f'measured {measured:8.1f} ms (position {genotype.position})', flush=True)
    randoms = rows[len(published):]
    predicted, measured = [r['predicted_ms'] for r in randoms], [r['measured_ms'] for r in randoms]
    error = sum(abs(p - m) / m for p, m in zip(predicted, measured)) / len(randoms)
    print(f'build_latency_table: {count} random architectures timed on {measured_on} (table: {table.device}): '
          f'Spearman rho '
          f'{spearman_rho(predicted, measured):.3f}, Kendall tau {kendall_tau(predicted, measured):.3f}, '
          f'mean relative error {100 * error:.1f}%')
    with open(out, 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f'build_latency_table: wrote {out}')
    return rows


def build_latency_table(args):
    if args.threads:
        torch.set_num_threads(args.threads)
    device = device_of(args.device)
    if args.table:
        try:
            table = LatencyTable(args.table)
        except (OSError, ValueError) as exc:
            raise ToolError(f'--table {args.table}: {getattr(exc, "strerror", None) or exc}') from None
    else:
        table = build(args, device)
    if args.check:
        source = args.table or args.out
        check(table, args.check, args.runs, device, osp.splitext(source)[0] + '.check.csv')


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('-opt', help='a search option file: the table is for its network and cost settings')
    parser.add_argument('--table', help='check this existing table instead of building one (with --check)')
    parser.add_argument('--out', help='where to write the table (YAML)')
    parser.add_argument('--num-feat', type=int, help=f"channels (default {FLAG_DEFAULTS['num_feat']})")
    parser.add_argument('--num-layers', type=int, help=f"L (default {FLAG_DEFAULTS['num_layers']})")
    parser.add_argument('--scale', type=int, choices=space.SCALES, help=f"default {FLAG_DEFAULTS['scale']}")
    parser.add_argument('--lr-size', type=int, nargs=2, metavar=('H', 'W'), help='LR input size (default 120 120)')
    parser.add_argument('--global-skip', choices=('none', 'bilinear', 'bicubic'), help='default bicubic')
    parser.add_argument('--cell-residual', choices=('true', 'false'), help='default true')
    parser.add_argument('--device', default='cpu', help='cpu (default) or cuda[:N]')
    parser.add_argument('--threads', type=int, help="CPU threads (default: torch's)")
    parser.add_argument('--runs', type=int, default=5, help='timed calls per entry, the median kept (default 5)')
    parser.add_argument('--check', type=int, default=0, metavar='N', help='check on N random architectures (>= 2)')
    args = parser.parse_args(argv)
    if args.cell_residual is not None:
        args.cell_residual = args.cell_residual == 'true'
    if args.table and (args.opt or args.out):
        parser.error('--table checks an existing table: -opt and --out build a new one')
    if not args.table and not args.out:
        parser.error('--out is needed to build a table (or --table to check one)')
    if args.table and not args.check:
        parser.error('--table needs --check N')
    for key in ('num_feat', 'num_layers', 'threads'):
        if getattr(args, key) is not None and getattr(args, key) < 1:
            parser.error(f'--{key.replace("_", "-")} takes a positive integer')
    if args.runs < 1 or args.check == 1 or args.check < 0 or (args.lr_size and min(args.lr_size) < 1):
        parser.error('--runs and --lr-size take positive integers, --check 0 or an integer >= 2')
    return args


def main(argv=None) -> int:
    return run_tool('build_latency_table.py', build_latency_table, parse_args(argv))


if __name__ == '__main__':
    sys.exit(main())
