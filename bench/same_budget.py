"""Same-budget CPU comparison: EDSR-baseline, a small RCAN, HNAS-A/B/C and the searched architecture, trained alike.

Every model trains with options/compare/train_same_budget_x2.yml (T91 + General100, x2, 1000 iterations of batch
16, 48x48 HR patches, Adam with cosine 1e-3 -> 1e-5, L1); only ``network_g`` changes: each model at a quarter of
its published width (16 features instead of 64), depth unchanged, and every one with the same bicubic skip (the
output is the residual over the bicubic upscaling): EDSR and RCAN through GlobalSkipWrapper, the HNAS networks
with ``global_skip: bicubic`` and ``cell_residual`` (the search's setting; each cell adds its input, as EDSR's
residual blocks do). The HNAS-A/B/C trainings are those of bench/trainability.py's 'residual' setting (same
options, same experiment names), so either script reuses the other's. Last, an EDSR-baseline deepened to the
searched network's multiply-adds, and one widened to them, compare the two at equal cost. The searched
architecture comes from an HNAS search on the same training images (options/compare/hnas_search_T91_General100_x2.yml
with SEARCH_OVERRIDES: uniform weight sampling, at most 2 identity edges), selected on their controller split by
tools/derive.py.
tools/benchmark.py then evaluates all of them and bicubic on Set5 and Set14.

Run (about 30 min on 2 cores; every stage is resumable, finished trainings are kept: remove
experiments/same_budget_* to retrain)::

    python bench/same_budget.py            # writes results/same_budget/{table.md,table.csv,psnr_vs_macs.png}
    python bench/same_budget.py --seed 1   # every model trained again with seed 1: results/same_budget_seed1/
    python bench/same_budget.py --summary results/same_budget results/same_budget_seed1   # mean and spread

The table gives each model's cost at the trained (proxy) width and at the full width (num_feat 64).
"""
import argparse
import copy
import csv
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
from os import path as osp

ROOT = osp.abspath(osp.join(osp.dirname(__file__), osp.pardir))
sys.path.insert(0, ROOT)

import hnas_basicsr  # noqa: E402,F401  (registers the plugin; before basicsr)
import yaml  # noqa: E402
from basicsr.archs import build_network  # noqa: E402

from hnas_basicsr.nas.cost import DEFAULT_LR_SIZE, count_cost  # noqa: E402
from hnas_basicsr.nas.genotype import Genotype, published_genotypes  # noqa: E402

SHARED = osp.join(ROOT, osp.pardir, 'shared', 'datasets')
TRAIN_OPT = 'options/compare/train_same_budget_x2.yml'
SEARCH_OPT = 'options/compare/hnas_search_T91_General100_x2.yml'
# The comparison's search: SEARCH_OPT with the weights trained on uniform samples and at most 2 identity edges in
# the normal cell (bench/search_quality.py's capped runs; uncapped, the supernet favours identity edges)
SEARCH_OVERRIDES = {'weight_sampling': 'uniform', 'max_identity': 2}
SEARCH_NAME = 'hnas_search_T91_General100_x2_cap2'
OUT = 'results/same_budget'
PROXY_FEAT, FULL_FEAT = 16, 64
SETTINGS = {'skip': dict(global_skip='bicubic'), 'residual': dict(global_skip='bicubic', cell_residual=True),
            'plain': dict(global_skip=None)}  # HNASNet options of each setting of bench/trainability.py
COMPARED = 'residual'  # the HNAS setting of the comparison: the search's


def hnas_network(genotype, setting):
    """``network_g`` of an x2 HNASNet at the proxy width in ``setting`` (a key of SETTINGS)."""
    return {'type': 'HNASNet', 'genotype': genotype.to_dict(), 'num_feat': PROXY_FEAT, 'num_layers': 12, 'upscale': 2,
            **SETTINGS[setting]}


def hnas_tag(name, setting):
    """Experiment tag of a genotype's training in a setting, shared with bench/trainability.py."""
    return f'trainability_{name}_{setting}'


def with_skip(net):
    return {'type': 'GlobalSkipWrapper', 'global_skip': 'bicubic', 'network': net}


def edsr(num_block=16, num_feat=PROXY_FEAT):
    return {'type': 'EDSR', 'num_in_ch': 3, 'num_out_ch': 3, 'num_feat': num_feat, 'num_block': num_block,
            'upscale': 2, 'res_scale': 1, 'img_range': 255., 'rgb_mean': [0.4488, 0.4371, 0.4040]}


def edsrs_matching(net):
    """{label: (tag, ``network_g``)}: the EDSR-baseline (skip included) made deeper, and made wider, until its
    multiply-adds (480x480 LR) are closest to those of ``net``."""
    def macs(opt):
        return count_cost(build_network(copy.deepcopy(opt)), DEFAULT_LR_SIZE, 3).macs

    target = macs(net)
    blocks = min(range(1, 200), key=lambda n: abs(macs(edsr(n)) - target))
    feat = min(range(1, 8 * PROXY_FEAT), key=lambda c: abs(macs(edsr(num_feat=c)) - target))
    return {f'EDSR-{blocks}blocks': (f'EDSR-{blocks}blocks_skip', with_skip(edsr(blocks))),
            f'EDSR-{feat}feat': (f'EDSR-{feat}feat_skip', with_skip(edsr(num_feat=feat)))}


def models():
    """Label -> (experiment tag, ``network_g`` at the proxy width); the searched architecture and the EDSR of its
    cost are added after derive."""
    rcan = {'type': 'RCAN', 'num_in_ch': 3, 'num_out_ch': 3, 'num_feat': PROXY_FEAT, 'num_group': 4, 'num_block': 4,
            'squeeze_factor': 4, 'upscale': 2, 'res_scale': 1, 'img_range': 255., 'rgb_mean': [0.4488, 0.4371, 0.4040]}
    nets = {'EDSR-baseline': ('EDSR-baseline_skip', with_skip(edsr())),
            'RCAN-small': ('RCAN-small_skip', with_skip(rcan))}
    for name, genotype in published_genotypes().items():
        name = name.replace('_', '-')
        nets[name] = (hnas_tag(name, COMPARED), hnas_network(genotype, COMPARED))
    return nets


def run(stage, args):
    """Run one command from the repo root, printed first; exit if it fails."""
    print(f'\n=== [{stage}] {" ".join(args)}', flush=True)
    start = time.time()
    if subprocess.run([sys.executable] + args, cwd=ROOT).returncode != 0:
        sys.exit(f'same_budget: stage {stage} failed; fix it and run again (finished stages are kept)')
    print(f'=== [{stage}] done in {time.time() - start:.0f} s', flush=True)
    return time.time() - start


def prepare_data(test_sets=True):
    """The LMDBs of the CPU protocol: T91 + General100 at x2 and, with ``test_sets``, Set5 and Set14 (kept if done)."""
    data = [osp.join(SHARED, 'train', 'T91'), osp.join(SHARED, 'train', 'General100')]
    run('prepare training data', ['tools/prepare_data.py', *data, '--scales', '2', '--workers', '2'])
    for name in ('Set5', 'Set14') if test_sets else ():
        run(f'prepare {name}', ['tools/prepare_data.py', osp.join(SHARED, 'test', name), '--no-sub-images'])


def search_options(out):
    """The comparison's search options (SEARCH_OPT with SEARCH_OVERRIDES), written to ``out``; returns the file."""
    with open(osp.join(ROOT, SEARCH_OPT)) as f:
        opt = yaml.safe_load(f)
    opt['name'] = SEARCH_NAME
    opt['search'].update(SEARCH_OVERRIDES)
    option_file = osp.join(out, 'search.yml')
    os.makedirs(osp.join(ROOT, out), exist_ok=True)
    with open(osp.join(ROOT, option_file), 'w') as f:
        yaml.safe_dump(opt, f, sort_keys=False)
    return option_file


def searched_network(derived):
    """(tag, ``network_g``) of the top architecture exported by derive, at the proxy width; the tag names the
    genotype (a digest of it), so a different pick is never taken for one trained before."""
    with open(osp.join(ROOT, derived, 'rank1', 'genotype.yml')) as f:
        genotype = Genotype.from_dict(yaml.safe_load(f))
    digest = hashlib.sha1(yaml.safe_dump(genotype.to_dict()).encode()).hexdigest()[:8]
    return hnas_tag(f'HNAS-searched-{digest}', COMPARED), hnas_network(genotype, COMPARED)


def train_options(base, label, net):
    opt = copy.deepcopy(base)
    opt['name'] = f'same_budget_{label.replace("-", "_")}_x2'
    opt['network_g'] = net
    return opt


def full_width_cost(net):
    """(params, multiply-adds) of a network at ``FULL_FEAT / PROXY_FEAT`` times its width (480x480 LR input)."""
    net = copy.deepcopy(net)
    body = net['network'] if net['type'] == 'GlobalSkipWrapper' else net
    body['num_feat'] = body['num_feat'] * FULL_FEAT // PROXY_FEAT
    cost = count_cost(build_network(net), DEFAULT_LR_SIZE, 3)
    return cost.params, cost.macs


def write_table(out, labels, nets, seconds):
    """Add the full-width cost and training time to the benchmark's CSV; write table.md."""
    with open(osp.join(ROOT, out, 'benchmark.csv')) as f:
        rows = list(csv.DictReader(f))
    sets = [k[:-5] for k in rows[0] if k.endswith(' PSNR')]
    head = ['Model', 'Params proxy (M)', 'Mult-Adds proxy (G)', 'Params full (M)', 'Mult-Adds full (G)',
            'Train (min)'] + [f'{s} PSNR/SSIM' for s in sets]
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    by_label = dict(zip(labels, nets))
    for row in rows:
        label = row['Model']
        full = full_width_cost(by_label[label]) if label in by_label else None
        cells = [label, row['Params (M)'], row['Mult-Adds (G)'],
                 f'{full[0] / 1e6:.3f}' if full else '-', f'{full[1] / 1e9:.1f}' if full else '-',
                 f'{seconds[label] / 60:.1f}' if label in seconds else '-']
        cells += [f'{row[f"{s} PSNR"]} / {row[f"{s} SSIM"]}' for s in sets]
        lines.append('| ' + ' | '.join(cells) + ' |')
    with open(osp.join(ROOT, out, 'table.md'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    print('\n'.join(lines))


def finished_run(folder):
    """(training seed, {model label: its row of benchmark.csv}, the searched genotype's YAML) of a finished run."""
    files = [osp.join(ROOT, folder, name) for name in ('benchmark.csv', osp.join('derived', 'rank1', 'genotype.yml'))]
    options = osp.join(ROOT, folder, 'options')
    if not all(osp.isfile(f) for f in files) or not osp.isdir(options) or not os.listdir(options):
        sys.exit(f'same_budget: {folder} is not a finished run (it needs benchmark.csv, options/ and '
                 'derived/rank1/genotype.yml): run bench/same_budget.py [--seed N] first')
    with open(osp.join(options, sorted(os.listdir(options))[0])) as f:
        seed = yaml.safe_load(f)['manual_seed']
    with open(files[0]) as f:
        rows = {row['Model']: row for row in csv.DictReader(f)}
    with open(files[1]) as f:
        return seed, rows, f.read()


def summarize(folders):
    """Each model's Set5 / Set14 PSNR over the training seeds (one finished run a folder, at least two): mean and
    sample standard deviation, and the searched network minus the model, seed by seed (each seed's difference, their
    mean and sd); printed and written to the first folder's seeds.md. The runs must share every model and the
    searched genotype and differ in their seeds."""
    seeds, runs, genotypes = zip(*(finished_run(folder) for folder in folders))
    if len(set(seeds)) < len(seeds):
        sys.exit(f'same_budget: the runs {", ".join(folders)} have training seeds {list(seeds)}: give each seed once')
    if len(set(genotypes)) > 1:
        sys.exit(f'same_budget: the runs {", ".join(folders)} searched different networks (derived/rank1/genotype.yml)')
    labels = list(runs[0])
    for run, folder in zip(runs, folders):
        if set(run) != set(labels):
            sys.exit(f'same_budget: {folder} has the models {sorted(run)}, {folders[0]} {sorted(labels)}')
    for label in labels:
        if len({(run[label]['Params (M)'], run[label]['Mult-Adds (G)']) for run in runs}) > 1:
            sys.exit(f'same_budget: {label} is not the same network in every run (its params or multiply-adds differ)')
    sets = [k[:-5] for k in runs[0][labels[0]] if k.endswith(' PSNR')]
    seed_list = ', '.join(map(str, seeds))
    head = ['Model', 'Mult-Adds proxy (G)'] + [f'{s} PSNR, mean ± sd' for s in sets] + \
        [f'{s}: searched - model, seeds {seed_list}; mean ± sd' for s in sets]
    lines = [f'Training seeds {seed_list} ({", ".join(folders)}); the same searched network in each', '',
             '| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for label in labels:
        cells = [label, runs[0][label]['Mult-Adds (G)']]
        for name in sets:
            values = [float(run[label][f'{name} PSNR']) for run in runs]
            cells.append(f'{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}')
        for name in sets:
            diffs = [float(run['HNAS-searched'][f'{name} PSNR']) - float(run[label][f'{name} PSNR']) for run in runs]
            cells.append('-' if label == 'HNAS-searched' else ', '.join(f'{d:+.3f}' for d in diffs) +
                         f'; {statistics.mean(diffs):+.3f} ± {statistics.stdev(diffs):.3f}')
        lines.append('| ' + ' | '.join(cells) + ' |')
    with open(osp.join(ROOT, folders[0], 'seeds.md'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    print('\n'.join(lines))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out', help=f'output folder (default {OUT}, {OUT}_seed<N> with --seed)')
    parser.add_argument('--seed', type=int, help="training seed of every model (default: the schedule file's); "
                        'experiment names get _seed<N>; the search and its pick stay the same')
    parser.add_argument('--summary', nargs='+', metavar='FOLDER', help='only summarise finished runs (one folder a '
                        'training seed, at least two) into the mean and spread of each model\'s PSNR and the searched '
                        'network\'s lead, seed by seed; writes the first folder\'s seeds.md')
    args = parser.parse_args()
    if args.summary:
        if args.seed is not None or args.out:
            parser.error('--summary reads finished runs: give it their folders, without --seed or --out')
        if len(args.summary) < 2:
            parser.error('--summary needs at least two runs (folders)')
        return summarize(args.summary)
    with open(osp.join(ROOT, TRAIN_OPT)) as f:
        base = yaml.safe_load(f)
    if args.seed == base['manual_seed']:
        parser.error(f"--seed {args.seed} is the schedule's own seed ({TRAIN_OPT}): that is the run without --seed")
    if args.seed is not None:
        base['manual_seed'] = args.seed
    suffix = '' if args.seed is None else f'_seed{args.seed}'
    out = args.out or OUT + suffix
    start = time.time()
    prepare_data()
    search_opt = search_options(out)
    run('search', ['hnas_basicsr/train.py', '-opt', search_opt, '--auto_resume'])
    derived = osp.join(out, 'derived')
    run('derive', ['tools/derive.py', '-opt', search_opt, '--experiment', f'experiments/{SEARCH_NAME}',
                   '--out', derived, '--name', 'HNAS_T91', '--num-feat', str(PROXY_FEAT), '--top-k', '1'])
    nets = dict(models(), **{'HNAS-searched': searched_network(derived)})
    nets.update(edsrs_matching(nets['HNAS-searched'][1]))
    nets = {label: (tag + suffix, net) for label, (tag, net) in nets.items()}
    reused = osp.join(ROOT, 'results', 'trainability', 'train_seconds.json')  # HNAS-A/B/C trained by trainability.py
    reused = json.load(open(reused)) if osp.isfile(reused) else {}
    times_file = osp.join(ROOT, out, 'train_seconds.json')
    seconds = json.load(open(times_file)) if osp.isfile(times_file) else {}
    option_files = []
    os.makedirs(osp.join(ROOT, out, 'options'), exist_ok=True)
    for label, (tag, net) in nets.items():
        opt = train_options(base, tag, net)
        option_file = osp.join(out, 'options', f'{opt["name"]}.yml')
        with open(osp.join(ROOT, option_file), 'w') as f:
            yaml.safe_dump(opt, f, sort_keys=False)
        option_files.append(option_file)
        if osp.isfile(osp.join(ROOT, 'experiments', opt['name'], 'models', 'net_g_latest.pth')):
            print(f'same_budget: {label} already trained (experiments/{opt["name"]})')
            if f'{label} {COMPARED}{suffix}' in reused:
                seconds.setdefault(tag, reused[f'{label} {COMPARED}{suffix}'])
            continue
        seconds[tag] = run(f'train {label}', ['hnas_basicsr/train.py', '-opt', option_file, '--auto_resume'])
        with open(times_file, 'w') as f:
            json.dump(seconds, f, indent=1)
    run('benchmark', ['tools/benchmark.py', '-opt', *option_files, '--labels', *nets, '--sets', 'datasets/Set5',
                      'datasets/Set14', '--out', out])
    write_table(out, list(nets), [net for _, net in nets.values()],
                {label: seconds[tag] for label, (tag, _) in nets.items() if tag in seconds})
    print(f'\nsame_budget: finished in {(time.time() - start) / 60:.1f} min; {out}/table.md, '
          f'{out}/psnr_vs_macs.png')


if __name__ == '__main__':
    main()
