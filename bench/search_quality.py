"""Does the search work? The controller against random search at equal budget, and lambda's steering, picks retrained.

Protocol (CPU; a search takes 2-4 min alone on 2 cores, a random search's derive about 10, a retraining 3-4): the
search of options/compare/hnas_search_T91_General100_x2.yml (T91 + General100, x2, supernet C = 8, batches of 8 24x24 LR
patches, bicubic skip and cell_residual, ``--search-iter`` weight steps; the controller takes 10 steps every 15),
with the weights trained on uniform samples under both strategies (``search.weight_sampling: uniform``: the
supernet then ranks better, bench/ranking_validity.py; both strategies then train their supernets alike and
differ in the architectures they evaluate), with one weight/controller split (split_seed 0) for every run and
``manual_seed`` = the run's seed (weights, controller, sampler). Each run is derived with tools/derive.py
(``--samples`` architectures drawn with the run's seed plus, for the controller, its most likely one; random
search gets as many more as the controller scored during its search, so both spend the same number of weight
steps and architecture evaluations), scored on 64 samples of the controller split and ranked by the run's
reward; its rank-1 pick is retrained alone by bench/trainability.py (setting 'residual': 16 features, the
same-budget schedule) and scored on Set5 and Set14, which select nothing.

Runs: controller and random at lambda 0.6 with seeds 0, 1, 2; the controller at lambda 0.2 and 0.9 with seed 0;
'front', one search with a controller per lambda in {0.2, 0.6, 0.9} sharing one supernet for 3x the iterations
(the budget of the three single searches), derived with ``--samples`` per controller, its pick at each lambda the
front member of best reward there; and with ``search.max_identity: 2`` the controller at lambda 0.9 and 0.2
(ctrl09s0cap2, ctrl02s0cap2), and the controller and random search at 0.6 with seeds 0 to 4 (ctrl06s0cap2,
rand06s0cap2, ...); and the same with a 16-feature supernet (``network_g.num_feat: 16``, which ranks better;
ctrl06s0c16, rand06s0c16, ... with seeds 0 to 2); and the controller under the cap with ``search.reward_psnr:
relative`` (its reward's PSNR relative to a fixed reference architecture's on the same batch; ctrl06s0rel, ... with
seeds 0 to 4, against random search's rand06s0cap2, ...: random search rewards nothing; and at lambda 0.2 and 0.9,
ctrl02s0rel and ctrl09s0rel; and both with the 16-feature supernet, ctrl06s0c16rel, ... against rand06s0c16, ...,
and at lambda 0.2 and 0.9, ctrl02s0c16rel and ctrl09s0c16rel; and these with Cost in units of 50000 G multiply-adds
instead of 1000, at lambda 0.9, 0.2 and 0.6: ctrl09s0c16relcu50, ..., and at 0.6 with seeds 1 and 2, against
random search at that unit: rand06s0c16cu50, ..., the architectures that rand06s0c16's derive scored, ranked by the
reward at 50000 G (random search's supernet and scores do not depend on the unit).

Besides each pick's reward on the supernet, the table gives its reward with the retrained PSNR on Set5 in place of
the supernet's (lambda * PSNR - (1 - lambda) * Cost): the search's own trade-off between PSNR and cost, judged on
the stand-alone network, so that picks of different cost compare at the rate lambda sets.

Usage (resumable; finished searches, derivations and trainings are kept)::

    python bench/search_quality.py                  # everything
    python bench/search_quality.py --no-retrain     # searches and derivations only

Writes results/search_quality/{table.md,table.csv,picks.png}.
"""
import argparse
import csv
import os
import sys
from os import path as osp

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

import matplotlib  # noqa: E402

matplotlib.use('Agg')
import yaml  # noqa: E402
from matplotlib import pyplot as plt  # noqa: E402
from ranking_validity import override, stand_alone  # noqa: E402
from same_budget import ROOT, SEARCH_OPT, prepare_data, run  # noqa: E402

from hnas_basicsr.nas import space  # noqa: E402
from hnas_basicsr.nas.genotype import Genotype  # noqa: E402
from hnas_basicsr.nas.reward import reward  # noqa: E402
from hnas_basicsr.objective import search_options  # noqa: E402
from hnas_basicsr.tools.derive import write_ranking  # noqa: E402

OUT = 'results/search_quality'
FRONT = [0.2, 0.6, 0.9]  # the one search over several lambdas: as many iterations as the three single searches
CAP = {'search.max_identity': 2}
C16 = {**CAP, 'network_g.num_feat': 16}  # a wider supernet ranks better (bench/ranking_validity.py)
REL = {**CAP, 'search.reward_psnr': 'relative'}  # the controller's reward without the batch's difficulty
CU50 = {'search.cost_unit': 50000.0}  # Cost's spread over the controller's samples near the PSNR's (reward_noise.py)
RUNS = [(f'{s[:4]}06s{seed}', s, 0.6, seed, {}) for seed in (0, 1, 2) for s in ('ctrl', 'rand')] + [
    ('ctrl02s0', 'ctrl', 0.2, 0, {}), ('ctrl09s0', 'ctrl', 0.9, 0, {}), ('front', 'ctrl', FRONT, 0, {}),
    ('ctrl09s0cap2', 'ctrl', 0.9, 0, CAP), ('ctrl02s0cap2', 'ctrl', 0.2, 0, CAP)] + [
    # (tag, strategy, lambda(s), seed, other options (dotted keys))
    (f'{s}06s{seed}cap2', s, 0.6, seed, CAP) for seed in (0, 1, 2, 3, 4) for s in ('ctrl', 'rand')] + [
    (f'{s}06s{seed}c16', s, 0.6, seed, C16) for seed in (0, 1, 2) for s in ('ctrl', 'rand')] + [
    (f'ctrl06s{seed}rel', 'ctrl', 0.6, seed, REL) for seed in (0, 1, 2, 3, 4)] + [  # against rand06s<seed>cap2
    ('ctrl02s0rel', 'ctrl', 0.2, 0, REL), ('ctrl09s0rel', 'ctrl', 0.9, 0, REL)] + [
    (f'ctrl06s{seed}c16rel', 'ctrl', 0.6, seed, {**C16, **REL}) for seed in (0, 1, 2)] + [  # against rand06s<seed>c16
    ('ctrl02s0c16rel', 'ctrl', 0.2, 0, {**C16, **REL}), ('ctrl09s0c16rel', 'ctrl', 0.9, 0, {**C16, **REL})] + [
    (f'ctrl0{round(lam * 10)}s0c16relcu50', 'ctrl', lam, 0, {**C16, **REL, **CU50})
    for lam in (0.9, 0.2, 0.6)] + [
    (f'ctrl06s{seed}c16relcu50', 'ctrl', 0.6, seed, {**C16, **REL, **CU50}) for seed in (1, 2)] + [
    (f'rand06s{seed}c16cu50', 'rand', 0.6, seed, {**C16, **CU50}) for seed in (0, 1, 2)]
RERANKED = {f'rand06s{seed}c16cu50': f'rand06s{seed}c16' for seed in (0, 1, 2)}  # run -> the run it re-ranks
RUNS = [(tag, {'ctrl': 'controller', 'rand': 'random'}[s], lam, seed, extra) for tag, s, lam, seed, extra in RUNS]


def rerank(base, out, opt):
    """Rank the architectures that ``base``'s derive scored by the reward at ``opt``'s lambda and cost unit into
    ``out`` (ranking.csv, ranking.md, rank1/genotype.yml; redone on every call, in well under a second). Only for
    random search: its supernet and scores depend on neither."""
    search = search_options(opt)
    if search['strategy'] != 'random' or search['cost'] != 'macs':
        raise ValueError(f"rerank: re-ranks a random search priced in multiply-adds, got {search}")
    with open(osp.join(ROOT, base, 'ranking.csv')) as f:
        rows = [dict(row, **{k: float(row[k]) for k in ('psnr_db', 'gmacs', 'mparams')}) for row in csv.DictReader(f)]
    for row in rows:
        row['reward'] = reward(row['psnr_db'], row['gmacs'], search['lambda'], search['cost_unit'])
    rows.sort(key=lambda row: -row['reward'])
    for rank, row in enumerate(rows, 1):
        row['rank'] = rank
    with open(osp.join(ROOT, base, 'ranking.md')) as f:
        header = f.readline().strip()
    os.makedirs(osp.join(ROOT, out, 'rank1'), exist_ok=True)
    write_ranking(rows, osp.join(ROOT, out), f"{header}; re-ranked at lambda {search['lambda']}, Cost in units of "
                                             f"{search['cost_unit']:g} G")
    genotype = Genotype.from_description(rows[0]['genotype'], opt['network_g']['num_layers'])
    with open(osp.join(ROOT, out, 'rank1', 'genotype.yml'), 'w') as f:
        yaml.safe_dump(genotype.to_dict(), f, sort_keys=False)


def search(tag, strategy, lam, seed, iters, samples, extra):
    """Search and derive one run (each skipped when done); returns its picks: the rank-1 row of ranking.csv, or with
    several lambdas for each lambda the row of the front (pareto.csv) with the best reward at it."""
    lambdas = lam if isinstance(lam, list) else [lam]
    iters *= len(lambdas)
    with open(osp.join(ROOT, SEARCH_OPT)) as f:
        opt = yaml.safe_load(f)
    opt['name'] = f'search_quality_{tag}'
    opt['manual_seed'] = seed
    opt['search'].update({'strategy': strategy, 'lambda': lam, 'weight_sampling': 'uniform'})
    override(opt, extra)
    opt['train']['total_iter'] = iters
    for key in ('scheduler', 'scheduler_c'):
        opt['train'][key]['periods'] = [iters]
    out = osp.join(OUT, tag)
    os.makedirs(osp.join(ROOT, out), exist_ok=True)
    option_file = osp.join(out, 'search.yml')
    with open(osp.join(ROOT, option_file), 'w') as f:
        yaml.safe_dump(opt, f, sort_keys=False)
    experiment = osp.join('experiments', opt['name'])
    minutes_file = osp.join(ROOT, out, 'search_minutes.txt')
    if tag in RERANKED:
        if not osp.isfile(osp.join(ROOT, OUT, RERANKED[tag], 'ranking.csv')):
            raise SystemExit(f'{tag} re-ranks the architectures of {RERANKED[tag]}: run --only {RERANKED[tag]} first')
        minutes_file = osp.join(ROOT, OUT, RERANKED[tag], 'search_minutes.txt')  # (the base run's search)
        rerank(osp.join(OUT, RERANKED[tag]), out, opt)
    elif not osp.isfile(osp.join(ROOT, experiment, 'models', 'net_g_latest.pth')):
        seconds = run(f'search {tag}', ['hnas_basicsr/train.py', '-opt', option_file, '--auto_resume'])
        with open(minutes_file, 'w') as f:
            f.write(f'{seconds / 60:.1f}\n')
    if strategy == 'random':  # the controller's reward evaluations during its search, spent on uniform samples
        samples += iters // opt['search']['weight_steps'] * opt['search']['controller_steps']
    if not osp.isfile(osp.join(ROOT, out, 'ranking.csv')):
        run(f'derive {tag}', ['tools/derive.py', '-opt', option_file, '--experiment', experiment, '--out', out,
                              '--samples', str(samples), '--top-k', '1', '--name', f'HNAS_{tag}', '--seed', str(seed)])
    minutes = open(minutes_file).read().strip() if osp.isfile(minutes_file) else '?'
    if len(lambdas) == 1:
        with open(osp.join(ROOT, out, 'ranking.csv')) as f:
            ranking = list(csv.DictReader(f))
        return [dict(ranking[0], minutes=minutes, evaluated=len(ranking),
                     genotype_file=osp.join(out, 'rank1', 'genotype.yml'), tag=tag,
                     cost_unit=opt['search']['cost_unit'], **{'lambda': lam})]
    with open(osp.join(ROOT, out, 'pareto.csv')) as f:
        front = list(csv.DictReader(f))
    picks = []
    for value in lambdas:  # a linear reward's best lies on the front
        def reward_at(row):
            return reward(float(row['psnr_db']), float(row['cost']), value, opt['search']['cost_unit'])
        best = max(front, key=reward_at)
        picks.append(dict(best, reward=reward_at(best), minutes=minutes, evaluated=samples * len(lambdas),
                          tag=f'{tag}{value}', cost_unit=opt['search']['cost_unit'],
                          genotype_file=osp.join(out, 'front', best['front'], 'genotype.yml'), **{'lambda': value}))
    return picks


def plot(rows, out):
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for row in rows:
        if row.get('Set5') is None:
            continue
        marker = 's' if row['tag'].startswith('front') else 'o' if row['strategy'] == 'controller' else 'x'
        ax.scatter(float(row['gmacs']), row['Set5'], marker=marker, color=f"C{int(float(row['lambda']) * 10) % 10}")
        ax.annotate(f"{row['tag']} (lambda {row['lambda']})", (float(row['gmacs']), row['Set5']), fontsize=7)
    ax.set_xlabel('G multiply-adds of the pick (64 features, 480x480 LR)')
    ax.set_ylabel('retrained PSNR on Set5 (16 features, dB)')
    ax.set_title('Picks: o controller, x random, s one search over three lambdas', fontsize=9)
    fig.tight_layout()
    fig.savefig(osp.join(ROOT, out, 'picks.png'), dpi=120)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--search-iter', type=int, default=300)
    parser.add_argument('--samples', type=int, default=20)
    parser.add_argument('--only', nargs='+', help='only these runs (tags such as ctrl06s0 rand06s1)')
    parser.add_argument('--no-retrain', action='store_true', help='skip the stand-alone retraining of the picks')
    args = parser.parse_args()
    prepare_data()
    rows, names = [], {}  # names: genotype encoding -> the name its stand-alone training has
    for tag, strategy, lam, seed, extra in RUNS:
        if args.only and tag not in args.only:
            continue
        for best in search(tag, strategy, lam, seed, args.search_iter, args.samples, extra):
            with open(osp.join(ROOT, best['genotype_file'])) as f:
                key = tuple(space.encode(Genotype.from_dict(yaml.safe_load(f))))
            names.setdefault(key, (f"pick-{best['tag']}", best['genotype_file']))
            rows.append(dict(best, strategy=strategy, seed=seed, name=names[key][0]))
    if not args.no_retrain:
        picks = list(dict.fromkeys(names.values()))  # in the order of RUNS
        run('retrain the picks', ['bench/trainability.py', '--settings', 'residual', '--only',
                                  *[n for n, _ in picks], '--genotype', *[f'{n}={file}' for n, file in picks]])
    trained = stand_alone()
    lines = ['| run | strategy | lambda | seed | search min | architectures scored by derive | pick: position | '
             'G multiply-adds (64 feat) | supernet PSNR | reward | retrained Set5 | retrained Set14 | '
             'reward with retrained Set5 |', '|' + '---|' * 13]
    for row in rows:
        psnr = trained.get(row['name'], {})
        row.update(Set5=psnr.get('Set5'), Set14=psnr.get('Set14'))
        retrained = [f'{psnr[s]:.2f}' if s in psnr else 'not trained' for s in ('Set5', 'Set14')]
        row['retrained_reward'] = (reward(psnr['Set5'], float(row['gmacs']), float(row['lambda']), row['cost_unit'])
                                   if 'Set5' in psnr else None)
        lines.append(f"| {row['tag']} | {row['strategy']} | {row['lambda']} | {row['seed']} | {row['minutes']} | "
                     f"{row['evaluated']} | {row['position']} | {float(row['gmacs']):.1f} | "
                     f"{float(row['psnr_db']):.3f} | "
                     f"{float(row['reward']):.3f} | {' | '.join(retrained)} | "
                     + (f"{row['retrained_reward']:.3f} |" if row['retrained_reward'] is not None else '- |'))
    os.makedirs(osp.join(ROOT, OUT), exist_ok=True)
    with open(osp.join(ROOT, OUT, 'table.md'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    columns = ['tag', 'strategy', 'lambda', 'seed', 'minutes', 'evaluated', 'position', 'gmacs', 'psnr_db', 'reward',
               'Set5', 'Set14', 'retrained_reward', 'name', 'genotype']
    with open(osp.join(ROOT, OUT, 'table.csv'), 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction='ignore')
        writer.writeheader()
        writer.writerows(rows)
    plot(rows, OUT)
    print('\n'.join(lines))


if __name__ == '__main__':
    main()
