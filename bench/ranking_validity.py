"""Does the supernet rank architectures as stand-alone training does? Kendall tau and Spearman rho, measured.

1. A CPU search on T91 + General100 at x2: options/compare/hnas_search_T91_General100_x2.yml (supernet C = 8,
   L = 12, batch 8, 24x24 LR patches, bicubic skip, cell_residual, lambda 0.6), ``--search-iter`` iterations,
   changed by ``--set key=value`` (dotted keys, YAML values) for the variants that try to raise the correlation.
2. The genotypes: HNAS-A/B/C, bench/trainability.py's 7 random ones (and any other random<seed> it trained), and
   the controller's most likely one.
3. Their supernet PSNR: the search's own scoring (PSNR on Y, crop 2, the supernet in eval mode) on ``--patches``
   whole samples of the controller split (training images that the weights never saw); ``--score-mode train``
   scores on batch statistics, ``--finetune N`` first fine-tunes a copy of the supernet on each path alone.
4. Their stand-alone PSNR: each trained alone from scratch by bench/trainability.py (setting ``residual``, the
   search's skips, 16 features, the same-budget schedule) and scored on Set5 and Set14 (held out; they select
   nothing here), averaged over the training seeds trained (``--seed``). Genotypes not trained yet are listed
   with the command that trains them. The zero-cost baseline: multiply-adds alone as the ranking.

Usage (a search takes 2-7 min on 2 cores; the finished search is kept and only rescored)::

    python bench/ranking_validity.py                                  # tag 'base'
    python bench/ranking_validity.py --tag uniform --set search.strategy=random
    python bench/ranking_validity.py --tag uniform --set search.strategy=random --finetune 50   # label uniform-ft50

Writes results/ranking_validity/<tag>/{search.yml,pick.yml} and, per scoring label (the tag, with -p<N>, -ft<N>,
-ftlr<lr> and -trainmode for those scorings), results/ranking_validity/<label>/{table.md,table.csv,scatter.png}
and a line in results/ranking_validity/summary.md.
"""
import argparse
import csv
import json
import os
import re
import sys
import time
from os import path as osp

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

import matplotlib  # noqa: E402

matplotlib.use('Agg')
import yaml  # noqa: E402
from matplotlib import pyplot as plt  # noqa: E402
from same_budget import ROOT, SEARCH_OPT, prepare_data, run  # noqa: E402
from trainability import OUT as TRAINABILITY_OUT  # noqa: E402
from trainability import benchmark_folder, genotypes, seeded_genotype  # noqa: E402

from hnas_basicsr.nas import space  # noqa: E402
from hnas_basicsr.nas.ranking import kendall_tau, spearman_rho  # noqa: E402
from hnas_basicsr.objective import SearchObjective, search_options  # noqa: E402
from hnas_basicsr.runtime import resolve_paths  # noqa: E402
from hnas_basicsr.tools.derive import (candidates, controller_patches, finetuned, latest_checkpoints,  # noqa: E402
                                       load_network, weight_batches)

OUT = 'results/ranking_validity'
SETTING = 'residual'  # the trainability setting that matches the search's network_g (bicubic skip, cell_residual)
SETS = ('Set5', 'Set14')
RECORDED = 'bench/results/trainability_residual.csv'  # bench/trainability.py --settings residual, seeds 0 and 1
SCORING_SUFFIX = r'-(p\d+|ft\d+|ftlr[\d.e-]+|trainmode)'  # what a scoring label adds to the search's tag


def search_option(args):
    """The search's options: the compare search with ``--search-iter`` and the ``--set`` overrides."""
    with open(osp.join(ROOT, SEARCH_OPT)) as f:
        opt = yaml.safe_load(f)
    opt['name'] = f'ranking_validity_{args.tag}'
    opt['train']['total_iter'] = args.search_iter
    for key in ('scheduler', 'scheduler_c'):
        opt['train'][key]['periods'] = [args.search_iter]
    return override(opt, {key: yaml.safe_load(value) for key, _, value in (item.partition('=') for item in args.set)})


def override(opt, values):
    """Set dotted option keys (``network_g.num_feat``) of ``opt`` to the given values; returns ``opt``."""
    for key, value in values.items():
        *parents, last = key.split('.')
        node = opt
        for parent in parents:
            node = node.setdefault(parent, {})
        node[last] = value
    return opt


def stand_alone():
    """Name -> {set: PSNR, 'seeds': n}: the mean over the training seeds of the networks bench/trainability.py
    trained in the setting of the search (``<name>_residual``, ``<name>_residual_seed<k>``), from the committed
    record (RECORDED) updated by its benchmark in results/ when there is one."""
    rows = {}
    for file in (RECORDED, osp.join(benchmark_folder(TRAINABILITY_OUT, [SETTING]), 'benchmark.csv')):
        if osp.isfile(osp.join(ROOT, file)):
            with open(osp.join(ROOT, file)) as f:
                rows.update({r['Model']: r for r in csv.DictReader(f)})
    seeds = {}
    for model, row in rows.items():
        found = re.fullmatch(rf'(.+)_{SETTING}(_seed\d+)?', model)
        if found:
            seeds.setdefault(found.group(1).replace('_', '-'), []).append([float(row[f'{s} PSNR']) for s in SETS])
    return {name: {**{s: sum(v[i] for v in values) / len(values) for i, s in enumerate(SETS)}, 'seeds': len(values)}
            for name, values in seeds.items()}


def correlations(rows, key='supernet'):
    """(column, tau, rho) of ``key`` (supernet PSNR, or multiply-adds: the zero-cost baseline) against each
    stand-alone column."""
    x = [r[key] for r in rows]
    return [(column, kendall_tau(x, [r[column] for r in rows]), spearman_rho(x, [r[column] for r in rows]))
            for column in (*SETS, 'mean')]


def scatter(rows, out, title):
    fig, axes = plt.subplots(1, len(SETS), figsize=(5 * len(SETS), 4))
    for ax, name in zip(axes, SETS):
        ax.scatter([r['supernet'] for r in rows], [r[name] for r in rows])
        for r in rows:
            ax.annotate(r['name'], (r['supernet'], r[name]), fontsize=7)
        ax.set_xlabel('supernet PSNR, controller split (dB)')
        ax.set_ylabel(f'stand-alone PSNR, {name} (dB)')
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(osp.join(ROOT, out, 'scatter.png'), dpi=120)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--tag', default='base', help='name of this variant (results/ranking_validity/<tag>)')
    parser.add_argument('--search-iter', type=int, default=300, help='search iterations (default 300)')
    parser.add_argument('--set', nargs='*', default=[], metavar='KEY=VALUE', help='option overrides, e.g. '
                        'search.strategy=random network_g.normalize=false search.weight_steps=50')
    parser.add_argument('--patches', type=int, default=256, help='controller-split samples to score on')
    parser.add_argument('--finetune', type=int, default=0, metavar='STEPS', help='fine-tune each path alone for '
                        'this many weight steps (the same batches for all) before scoring it (default: none)')
    parser.add_argument('--finetune-lr', type=float, default=1e-3, help='Adam learning rate of --finetune, cosine '
                        'to 0 (default %(default)s)')
    parser.add_argument('--score-mode', choices=('eval', 'train'), default='eval', help='score the supernet in '
                        'eval mode (running statistics if it tracks them) or train mode (batch statistics)')
    args = parser.parse_args()
    search_dir = osp.join(OUT, args.tag)
    if re.search(SCORING_SUFFIX + '$', args.tag):
        parser.error(f'--tag {args.tag}: ends like a scoring label; choose another tag')
    scoring = ((f'-p{args.patches}' if args.patches != 256 else '') + (f'-ft{args.finetune}' if args.finetune else '')
               + (f'-ftlr{args.finetune_lr:g}' if args.finetune and args.finetune_lr != 1e-3 else '')
               + ('-trainmode' if args.score_mode == 'train' else ''))
    label = args.tag + scoring  # the scoring variants of one search are reported under their own label
    out = osp.join(OUT, label)
    os.makedirs(osp.join(ROOT, out), exist_ok=True)
    opt = search_option(args)
    option_file = osp.join(search_dir, 'search.yml')
    experiment = osp.join(ROOT, 'experiments', opt['name'])
    if osp.isfile(osp.join(ROOT, option_file)) and osp.isdir(experiment):
        with open(osp.join(ROOT, option_file)) as f:
            if yaml.safe_load(f) != opt:
                parser.error(f'--tag {args.tag}: its search ran with other options ({option_file}); pass the same '
                             '--search-iter and --set, or choose another tag')
    os.makedirs(osp.join(ROOT, search_dir), exist_ok=True)
    with open(osp.join(ROOT, option_file), 'w') as f:
        yaml.safe_dump(opt, f, sort_keys=False)
    seconds_file = osp.join(ROOT, search_dir, 'search_seconds.txt')
    if not osp.isfile(osp.join(experiment, 'models', 'net_g_latest.pth')):
        prepare_data(test_sets=False)
        seconds = run('search', ['hnas_basicsr/train.py', '-opt', option_file, '--auto_resume'])
        with open(seconds_file, 'w') as f:
            f.write(f'{seconds:.0f}\n')
    search_seconds = open(seconds_file).read().strip() if osp.isfile(seconds_file) else '?'

    resolve_paths(opt, ROOT)
    search = search_options(opt)
    net_g_path, net_c_path = latest_checkpoints(experiment)
    supernet = load_network(opt['network_g'], net_g_path, 'network_g')
    objective = SearchObjective(search, supernet.hparams)
    trained = stand_alone()
    named = genotypes(7)
    named.update({name: seeded_genotype(int(name[6:])) for name in trained
                  if re.fullmatch(r'random\d+', name) and name not in named})  # also those outside the cost bound
    if search['strategy'] == 'controller':
        controller = load_network(opt['network_c'], net_c_path, 'network_c')
        pick = candidates(objective, [controller], 0, 0)[0][0]
        named[f'pick-{args.tag}'] = pick
        with open(osp.join(ROOT, search_dir, 'pick.yml'), 'w') as f:
            yaml.safe_dump(pick.to_dict(), f, sort_keys=False)
    lq, gt = controller_patches(opt, args.patches)
    batches = weight_batches(opt, args.finetune, 0) if args.finetune else []
    scores_file = osp.join(ROOT, out, f'supernet_psnr_{len(lq)}.json')  # kept: a rerun only adds new genotypes
    scores = json.load(open(scores_file)) if osp.isfile(scores_file) else {}
    rows, untrained = [], []
    start = time.time()
    for name, genotype in named.items():
        key = f'{name} {space.encode(genotype)}'
        if key not in scores:
            net = finetuned(supernet, genotype, batches, args.finetune_lr) if batches else supernet
            if args.score_mode == 'train':
                net.train()
            scores[key] = objective.psnr(net, genotype, lq, gt, batch=32)
            with open(scores_file, 'w') as f:
                json.dump(scores, f, indent=1)
        psnr = scores[key]
        gmacs = objective.cost_table.cost(genotype).macs / 1e9
        print(f'{name}: supernet {psnr:.3f} dB, {gmacs:.1f} G', flush=True)
        if name in trained:
            rows.append(dict(name=name, supernet=psnr, gmacs=gmacs, **trained[name],
                             mean=sum(trained[name][s] for s in SETS) / len(SETS)))
        else:
            untrained.append((name, psnr))
    score_seconds = time.time() - start

    settings = ', '.join(args.set) or 'the shipped options'
    how = (f'each path fine-tuned alone for {args.finetune} steps (Adam {args.finetune_lr:g}, cosine), then '
           if args.finetune else '') + f'scored in {args.score_mode} mode'
    seeds = sorted({r['seeds'] for r in rows})
    header = (f'Ranking validity, {label}: search {args.search_iter} iterations ({settings}; {search_seconds} s '
              f'on 2 cores), supernet PSNR on {len(lq)} controller-split samples, {how} (scoring: '
              f'{score_seconds:.0f} s in this run); stand-alone: bench/trainability.py --settings {SETTING}, '
              f'16 features, the mean of {" or ".join(map(str, seeds))} training seed(s) (column seeds), Set5 / '
              'Set14 (Y, crop 2). Cost: G multiply-adds of HNASNet at 64 features, 480x480 LR.')
    lines = [header, '', '| genotype | supernet PSNR | G multiply-adds | Set5 | Set14 | mean | seeds |',
             '|' + '---|' * 7]
    rows.sort(key=lambda r: r['supernet'], reverse=True)
    lines += [f"| {r['name']} | {r['supernet']:.3f} | {r['gmacs']:.1f} | {r['Set5']:.2f} | {r['Set14']:.2f} | "
              f"{r['mean']:.3f} | {r['seeds']} |" for r in rows]
    lines += [f'| {name} | {psnr:.3f} | | not trained | | | |' for name, psnr in untrained]
    summary = ''
    if len(rows) >= 2:
        table = correlations(rows)
        cost_tau, cost_rho = correlations(rows, 'gmacs')[-1][1:]
        lines += ['', '| stand-alone column | Kendall tau | Spearman rho |', '|---|---|---|']
        lines += [f'| {column} | {tau:.3f} | {rho:.3f} |' for column, tau, rho in table]
        lines += ['', f'Multiply-adds alone (no training; more is better) against the mean: tau {cost_tau:.3f}, '
                  f'rho {cost_rho:.3f}.']
        tau, rho = table[-1][1:]
        spread = rows[0]['supernet'] - rows[-1]['supernet']
        summary = (f'| {label} | {settings}; {how} | {args.search_iter} | {search_seconds} | {len(rows)} | '
                   f'{"/".join(map(str, seeds))} | {tau:.3f} | {rho:.3f} | {spread:.3f} |')
        scatter(rows, out, f'{label}: tau {tau:.2f}, rho {rho:.2f} ({len(rows)} genotypes)')
    if untrained:
        extra = [f'{n}={search_dir}/pick.yml' for n, _ in untrained if n.startswith('pick-')]
        lines += ['', 'Train the missing ones with: python bench/trainability.py --settings residual --only '
                  + ' '.join(n for n, _ in untrained) + (' --genotype ' + ' '.join(extra) if extra else '')]
    with open(osp.join(ROOT, out, 'table.md'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    with open(osp.join(ROOT, out, 'table.csv'), 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=['name', 'supernet', 'gmacs', *SETS, 'mean', 'seeds'])
        writer.writeheader()
        writer.writerows(rows)
    print('\n'.join(lines))
    if summary:
        summary_file = osp.join(ROOT, OUT, 'summary.md')
        old = open(summary_file).read().splitlines()[2:] if osp.isfile(summary_file) else []
        kept = [line for line in old if not line.startswith(f'| {label} |') and line.count('|') == summary.count('|')]
        with open(summary_file, 'w') as f:
            f.write('| label | changes; scoring | search iterations | search s | genotypes | stand-alone seeds | '
                    'tau (mean PSNR) | rho | supernet spread (dB) |\n|---|---|---|---|---|---|---|---|---|\n'
                    + '\n'.join(kept + [summary]) + '\n')


if __name__ == '__main__':
    main()
