"""Derive architectures from a finished (or running) HNAS search and export them as BasicSR options.

Usage (``hnas-derive`` is the same command)::

    python tools/derive.py -opt options/hnas_search.yml --experiment experiments/hnas_search_demo --out derived/

From the experiment's latest checkpoint (supernet ``net_g`` and controller ``net_c``) it samples
``--samples`` architectures plus the controller's most likely one (with ``search.strategy: random``:
uniform samples; a search over several lambdas: from each lambda's controller), scores each on the held-out
controller split of the training images with the supernet's weights (PSNR on Y, crop = scale; ``--finetune N``:
after fine-tuning a copy of them on each architecture's path alone for N steps of the weight split), counts the
derived network's cost (multiply-adds at ``search.cost_lr_size``, ``--num-feat`` channels, default
``search.cost_num_feat``), ranks them by the search's reward (``--lambda``: at another trade-off), and writes:

    <out>/ranking.md, <out>/ranking.csv       the ranked table
    <out>/rank<k>/genotype.yml                 for the top ``--top-k``: the genotype,
    <out>/rank<k>/train_<name>.yml             a BasicSR training option file (HNASNet, from scratch),
    <out>/rank<k>/test_<name>.yml              a BasicSR test option file,
    <out>/rank<k>/architecture.png             a picture of both cells and the position;
    <out>/pareto.md, pareto.csv, pareto.png    the non-dominated architectures (PSNR against the rewarded cost),
    <out>/front/<k>/                           each exported as a rank is.

No test set is touched: selection uses the controller split only.
"""
import argparse
import copy
import csv
import os
import random
import shutil
import sys
from os import path as osp

import hnas_basicsr  # noqa: F401  (registers the plugin; before basicsr)
import torch
import yaml
from basicsr.data import build_dataset
from tqdm import tqdm

from hnas_basicsr.cli import ToolError, load_yaml, one_line, run_tool
from hnas_basicsr.data.hnas_split_dataset import base_options, controller_split, release_base_datasets
from hnas_basicsr.nas.cost import protocol
from hnas_basicsr.nas.pareto import non_dominated
from hnas_basicsr.nas.plot import draw_genotype
from hnas_basicsr.networks import build, load_checkpoint, load_weights
from hnas_basicsr.objective import (SearchObjective, build_controllers, check_controller_state, controllers_of,
                                    search_options)
from hnas_basicsr.runtime import project_root, resolve_paths


SUPERNET_ONLY = ('type', 'num_feat', 'normalize', 'track_running_stats')  # not passed on to the derived HNASNet


def latest_checkpoints(experiment):
    """Paths of the newest (net_g, net_c) pair in ``<experiment>/models``."""
    if not osp.isdir(experiment) and osp.isdir(osp.join(project_root(), experiment)):
        experiment = osp.join(project_root(), experiment)  # experiments are written under the project root
    if not osp.isdir(experiment):
        raise ToolError(f'{experiment}: experiment folder not found')
    models = osp.join(experiment, 'models')
    if not osp.isdir(models):
        raise ToolError(f'{experiment}: no models/ folder; run the search first (hnas_basicsr/train.py -opt ...)')
    files = set(os.listdir(models))
    tags = [f[6:-4] for f in files if f.startswith('net_g_') and f.endswith('.pth') and f'net_c_{f[6:]}' in files]
    if not tags:
        raise ToolError(f'{models}: no pair of net_g_<iter>.pth and net_c_<iter>.pth checkpoints')
    newest = max(tags, key=lambda t: osp.getmtime(osp.join(models, f'net_g_{t}.pth')))  # a resumed run's latest
    return osp.join(models, f'net_g_{newest}.pth'), osp.join(models, f'net_c_{newest}.pth')


def load_network(net_opt, path, where):
    """The network of ``net_opt`` with the weights of ``path``, in eval mode."""
    return load_weights(build(net_opt, where), path).eval()


def controller_patches(opt, max_patches):
    """(lq, gt) tensors: up to ``max_patches`` whole samples of the controller split, evenly spaced."""
    try:
        dataset_opt = controller_split((opt.get('datasets') or {}).get('train'))
    except ValueError as exc:
        raise ToolError(str(exc)) from None
    # as basicsr's option parser would: phase and scale (PairedImageDataset reads both), no random crop
    dataset_opt.update(phase='val', scale=opt.get('scale') or opt['network_g'].get('upscale', 2))
    dataset_opt.pop('gt_size', None)
    try:
        dataset = build_dataset(dataset_opt)
        count = min(max_patches, len(dataset))
        if count == 0:
            raise ValueError('no samples')
        items = [dataset[i * len(dataset) // count] for i in range(count)]
        return torch.stack([it['lq'] for it in items]), torch.stack([it['gt'] for it in items])
    except Exception as exc:  # missing or unreadable data, sub-images of different sizes
        raise ToolError(f'datasets.train (controller split): {one_line(exc)}') from None


def weight_batches(opt, steps, seed):
    """``steps`` (lq, gt) batches of ``datasets.train`` (in a search's options the weight split) as the search draws
    them (random crops and flips, its batch size), drawn once with ``seed``, so that every candidate is fine-tuned on
    the same ones."""
    dataset_opt = copy.deepcopy((opt.get('datasets') or {}).get('train') or {})
    dataset_opt.update(phase='train', scale=opt.get('scale') or opt['network_g'].get('upscale', 2))
    release_base_datasets()  # the controller split's reader holds the same LMDBs, which open once per process
    try:
        dataset = build_dataset(dataset_opt)
        batch = dataset_opt.get('batch_size_per_gpu', 16)
        rng = random.Random(seed)
        random.seed(seed)  # basicsr's crops and flips draw from the global random module
        items = [dataset[rng.randrange(len(dataset))] for _ in range(steps * batch)]
    except Exception as exc:  # missing or unreadable data
        raise ToolError(f"datasets.train ({dataset_opt.get('split', 'weights')} split): {one_line(exc)}") from None
    finally:
        release_base_datasets()
    return [(torch.stack([it['lq'] for it in items[i:i + batch]]), torch.stack([it['gt'] for it in items[i:i + batch]]))
            for i in range(0, len(items), batch)]


def finetuned(supernet, genotype, batches, lr):
    """A copy of ``supernet`` whose path ``genotype`` took one Adam step per batch (L1 loss, learning rate ``lr``
    cosine-annealed to 0), in eval mode; ``supernet`` itself is unchanged."""
    net = copy.deepcopy(supernet).train()
    optimizer = torch.optim.Adam([p for p in net.parameters() if p.requires_grad], lr=lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, len(batches))
    for lq, gt in batches:
        optimizer.zero_grad(set_to_none=True)  # off-path weights get no gradient, so Adam leaves them alone
        torch.nn.functional.l1_loss(net(lq, genotype), gt).backward()
        optimizer.step()
        scheduler.step()
    return net.eval()


def candidates(objective, controllers, samples, seed):
    """Each controller's greedy architecture, then ``samples`` sampled ones from each (random strategy: uniform),
    deduplicated; with several controllers the origin names the lambda(s)."""
    generator = torch.Generator().manual_seed(seed)
    rng = random.Random(seed)
    several = len(controllers) > 1
    greedy, found = {}, {}
    with torch.no_grad():
        if objective.options['strategy'] == 'controller':
            for lam, controller in zip(objective.lambdas, controllers):
                greedy.setdefault(objective.sample(controller, generator, rng, greedy=True)[0], []).append(lam)
        for genotype, lambdas in greedy.items():
            found[genotype] = f"greedy (lambda {', '.join(map(str, lambdas))})" if several else 'greedy'
        for lam, controller in zip(objective.lambdas, controllers):
            for _ in range(samples):
                found.setdefault(objective.sample(controller, generator, rng)[0],
                                 f'sampled (lambda {lam})' if several else 'sampled')
    return list(found.items())


def retrain_options(opt, genotype, name, num_feat, total_iter):
    """A BasicSR training option file for the derived network, on the search's data (all training images)."""
    net = copy.deepcopy(opt['network_g'])
    datasets = {'train': base_options(opt['datasets']['train'])}
    datasets.update({k: copy.deepcopy(v) for k, v in opt['datasets'].items() if k.startswith('val')})
    train = copy.deepcopy(opt['train'])
    for key in ('optim_c', 'scheduler_c'):
        train.pop(key, None)
    train['total_iter'] = total_iter
    train['scheduler'] = {'type': 'CosineAnnealingRestartLR', 'periods': [total_iter], 'restart_weights': [1],
                          'eta_min': 1e-5}
    return {
        'name': f'train_{name}',
        'model_type': 'HNASSRModel',
        'scale': opt['scale'],
        'num_gpu': opt.get('num_gpu', 'auto'),
        'manual_seed': opt.get('manual_seed', 0),
        'datasets': datasets,
        'network_g': dict(
            {k: v for k, v in net.items() if k not in SUPERNET_ONLY},  # the supernet's other arguments
            type='HNASNet', num_feat=num_feat, upscale=net.get('upscale', opt['scale']), genotype=genotype.to_dict()),
        'path': {'pretrain_network_g': None, 'strict_load_g': True, 'resume_state': None},
        'train': train,
        'val': dict(copy.deepcopy(opt.get('val') or {}), val_freq=max(1, total_iter // 2)),
        'logger': dict(copy.deepcopy(opt['logger']), save_checkpoint_freq=max(1, total_iter // 2)),
        'dist_params': copy.deepcopy(opt.get('dist_params', {'backend': 'nccl', 'port': 29500})),
    }


def test_options(train_opt, name):
    """The matching BasicSR test option file (the search's validation sets, the retrained weights)."""
    datasets = {f'test_{i + 1}': copy.deepcopy(v)
                for i, v in enumerate(d for k, d in train_opt['datasets'].items() if k.startswith('val'))}
    return {
        'name': f'test_{name}',
        'model_type': 'HNASSRModel',
        'scale': train_opt['scale'],
        'num_gpu': train_opt['num_gpu'],
        'manual_seed': train_opt['manual_seed'],
        'datasets': datasets,
        'network_g': copy.deepcopy(train_opt['network_g']),
        'path': {'pretrain_network_g': f'experiments/train_{name}/models/net_g_latest.pth', 'strict_load_g': True,
                 'param_key_g': 'params'},
        'val': {'save_img': True, 'suffix': None, 'metrics': copy.deepcopy(train_opt['val'].get('metrics', {}))},
    }


def write_yaml(path, data):
    with open(path, 'w') as f:
        yaml.safe_dump(data, f, sort_keys=False)


def write_ranking(rows, out, header):
    latency = bool(rows) and 'latency_ms' in rows[0]  # (a search rewarding latency: its prediction too)
    columns = ['rank', 'origin', 'position', 'psnr_db', 'gmacs', *(['latency_ms'] if latency else []), 'mparams',
               'reward', 'genotype']
    with open(osp.join(out, 'ranking.csv'), 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows({k: row[k] for k in columns} for row in rows)
    lines = [header, '', '| rank | origin | position | PSNR (dB) | G multiply-adds |' + ' latency (ms) |' * latency
             + ' M params | reward |', '|---' * (7 + latency) + '|']
    lines += [f"| {r['rank']} | {r['origin']} | {r['position']} | {r['psnr_db']:.3f} | {r['gmacs']:.1f} | "
              + (f"{r['latency_ms']:.1f} | " if latency else '') + f"{r['mparams']:.3f} | {r['reward']:.3f} |"
              for r in rows]
    with open(osp.join(out, 'ranking.md'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return '\n'.join(lines)


def export(row, opt, folder, name, num_feat, total_iter):
    """``row``'s architecture in ``folder``: genotype.yml, BasicSR train and test options, architecture.png."""
    os.makedirs(folder, exist_ok=True)
    train_opt = retrain_options(opt, row['_genotype'], name, num_feat, total_iter)
    write_yaml(osp.join(folder, 'genotype.yml'), row['_genotype'].to_dict())
    write_yaml(osp.join(folder, f'train_{name}.yml'), train_opt)
    write_yaml(osp.join(folder, f'test_{name}.yml'), test_options(train_opt, name))
    draw_genotype(row['_genotype'], train_opt['network_g']['num_layers'], osp.join(folder, 'architecture.png'),
                  f"{name}: {row['psnr_db']:.2f} dB (supernet), {row['gmacs']:.1f} G multiply-adds")


def write_front(rows, front, out, cost_label):
    """The non-dominated architectures: pareto.md, pareto.csv and pareto.png (every candidate, the front joined)."""
    import matplotlib
    matplotlib.use('Agg')
    from matplotlib import pyplot as plt
    columns = ['front', 'rank', 'origin', 'position', 'psnr_db', 'cost', 'gmacs', 'mparams', 'reward', 'genotype']
    with open(osp.join(out, 'pareto.csv'), 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(dict({k: row[k] for k in columns[1:]}, front=k) for k, row in enumerate(front, start=1))
    lines = [f'Non-dominated architectures of the {len(rows)} scored (PSNR on the controller split against '
             f'{cost_label}); each exported in front/<k>/.', '',
             f'| front | rank | origin | position | PSNR (dB) | {cost_label} | M params | reward |', '|---' * 8 + '|']
    lines += [f"| {k} | {r['rank']} | {r['origin']} | {r['position']} | {r['psnr_db']:.3f} | {r['cost']:.1f} | "
              f"{r['mparams']:.3f} | {r['reward']:.3f} |" for k, r in enumerate(front, start=1)]
    with open(osp.join(out, 'pareto.md'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    fig, ax = plt.subplots(figsize=(6, 4.5))
    ax.scatter([r['cost'] for r in rows], [r['psnr_db'] for r in rows], s=12, color='gray', label='scored')
    ax.plot([r['cost'] for r in front], [r['psnr_db'] for r in front], 'o-', color='C3', label='non-dominated')
    for k, r in enumerate(front, start=1):
        ax.annotate(str(k), (r['cost'], r['psnr_db']), fontsize=8, textcoords='offset points', xytext=(4, 4))
    ax.set(xlabel=cost_label, ylabel='PSNR on the controller split (dB, supernet)')
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(osp.join(out, 'pareto.png'), dpi=120)
    plt.close(fig)
    return '\n'.join(lines)


def derive(args):
    root = project_root()
    opt = load_yaml(args.opt)
    if not isinstance(opt, dict) or 'network_g' not in opt or 'network_c' not in opt:
        raise ToolError(f'{args.opt}: not a search option file (needs network_g and network_c)')
    resolve_paths(opt, root)
    try:
        search = search_options(opt)
    except ValueError as exc:
        raise ToolError(f'{args.opt}: {exc}') from None
    net_g_path, net_c_path = latest_checkpoints(args.experiment)
    supernet = load_network(opt['network_g'], net_g_path, f'{args.opt}: network_g')
    where = f'{args.opt}: network_c'
    state = load_checkpoint(net_c_path)
    try:
        check_controller_state(state, search, net_c_path)
    except ValueError as exc:
        raise ToolError(str(exc)) from None
    controllers = controllers_of(load_weights(build_controllers(lambda o: build(o, where), opt['network_c'], search),
                                              net_c_path).eval())
    hp = supernet.hparams
    num_feat = args.num_feat or search['cost_num_feat']  # width of the exported HNASNet
    try:
        objective = SearchObjective(search, hp)
    except ValueError as exc:
        raise ToolError(f'{args.opt}: {exc}') from None
    print(f'derive: checkpoints {net_g_path}, {net_c_path}', flush=True)
    lq, gt = controller_patches(opt, args.max_patches)
    print(f'derive: scoring on {len(lq)} held-out patches of the controller split (never a test set)', flush=True)
    batches = weight_batches(opt, args.finetune, args.seed) if args.finetune else []
    if batches:
        print(f"derive: fine-tuning each architecture's path alone for {args.finetune} steps of the weight split "
              'before scoring it', flush=True)
    rows = []
    lam = objective.lambdas[0] if args.lambda_ is None else args.lambda_
    for genotype, origin in tqdm(candidates(objective, controllers, args.samples, args.seed),
                                 desc='scoring architectures', unit='arch'):
        net = finetuned(supernet, genotype, batches, args.finetune_lr) if batches else supernet
        psnr = objective.psnr(net, genotype, lq, gt, args.batch)
        cost = objective.cost_table.cost(genotype)
        value = objective.reward(psnr, objective.cost(genotype), lam)
        rows.append(dict(origin=origin, genotype=genotype.describe(), position=genotype.position, psnr_db=psnr,
                         gmacs=cost.macs / 1e9, mparams=cost.params / 1e6, reward=value, _genotype=genotype,
                         cost=objective.latency_table.latency_ms(genotype) if objective.latency_table is not None
                         else cost.macs / 1e9))
        if objective.latency_table is not None:
            rows[-1]['latency_ms'] = rows[-1]['cost']
    rows.sort(key=lambda r: r['reward'], reverse=True)
    for rank, row in enumerate(rows, start=1):
        row['rank'] = rank
    os.makedirs(args.out, exist_ok=True)
    rewarded = (f"latency predicted for {objective.latency_table.device} (rewarded) and " if
                objective.latency_table is not None else '')
    finetuning = (f' (each path fine-tuned alone for {args.finetune} steps, Adam {args.finetune_lr:g})'
                  if args.finetune else '')
    header = (f"Architectures of {args.experiment} (searched at lambda {search['lambda']}, strategy "
              f"{search['strategy']}; ranked at lambda {lam}); "
              f"PSNR with the supernet weights{finetuning} on the controller split; "
              f"{rewarded}cost{'' if rewarded else ' (as rewarded)'} of HNASNet at {search['cost_num_feat']} channels: "
              f"{protocol(tuple(search['cost_lr_size']), hp['num_in_ch'])}")
    print(write_ranking(rows, args.out, header))
    prefix = args.name or f"HNAS_{osp.basename(osp.normpath(args.experiment))}"
    for row in rows[:args.top_k]:
        export(row, opt, osp.join(args.out, f"rank{row['rank']}"), f"{prefix}_rank{row['rank']}_x{hp['upscale']}",
               num_feat, args.total_iter)
    front = [rows[i] for i in non_dominated([(r['psnr_db'], r['cost']) for r in rows])]
    cost_label = ('predicted latency (ms)' if objective.latency_table is not None else
                  f"G multiply-adds ({search['cost_lr_size'][0]}x{search['cost_lr_size'][1]} LR)")
    print(write_front(rows, front, args.out, cost_label))
    shutil.rmtree(osp.join(args.out, 'front'), ignore_errors=True)  # (a front of an earlier run may be longer)
    for k, row in enumerate(front, start=1):
        export(row, opt, osp.join(args.out, 'front', str(k)), f"{prefix}_front{k}_x{hp['upscale']}", num_feat,
               args.total_iter)
    print(f'derive: wrote {args.out}/ranking.md, ranking.csv and the top {min(args.top_k, len(rows))} as '
          f'BasicSR options; the {len(front)} non-dominated architectures in {args.out}/pareto.md, pareto.png and '
          f'front/<k>/; retrain with: python hnas_basicsr/train.py -opt {args.out}/rank1/train_{prefix}_rank1'
          f"_x{hp['upscale']}.yml")
    return rows


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('-opt', required=True, help='the search option file')
    parser.add_argument('--experiment', required=True, help='the search experiment folder (experiments/<name>)')
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument('--samples', type=int, default=20, help='architectures to sample (default 20)')
    parser.add_argument('--top-k', type=int, default=3, help='how many to export (default 3)')
    parser.add_argument('--num-feat', type=int, help="channels of the exported HNASNet, and of the cost column "
                        "(default: the search's search.cost_num_feat, 64 if unset)")
    parser.add_argument('--total-iter', type=int, default=400000, help='iterations of the exported training')
    parser.add_argument('--max-patches', type=int, default=64, help='controller-split patches to score on')
    parser.add_argument('--batch', type=int, default=32, help='patches per forward pass')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--finetune', type=int, default=0, metavar='STEPS', help='fine-tune each architecture\'s '
                        'path alone for this many weight steps (the same batches of the weight split for all) before '
                        'scoring it: ranks closer to stand-alone training, at a cost (default 0: none)')
    parser.add_argument('--finetune-lr', type=float, default=1e-3, help='Adam learning rate of --finetune, '
                        'cosine-annealed to 0 (default %(default)s)')
    parser.add_argument('--lambda', dest='lambda_', type=float, help="rank by the reward at this lambda (default: the "
                        "search's, the first of several)")
    parser.add_argument('--name', help='name prefix of the exported options (default HNAS_<experiment>)')
    args = parser.parse_args(argv)
    if args.finetune < 0 or not args.finetune_lr > 0:
        parser.error('--finetune must be 0 or more and --finetune-lr positive')
    if args.lambda_ is not None and not 0 <= args.lambda_ <= 1:
        parser.error(f'--lambda: expected a number in [0, 1], got {args.lambda_}')
    for key in ('samples', 'top_k', 'num_feat', 'total_iter', 'max_patches', 'batch'):
        if getattr(args, key) is not None and getattr(args, key) < 1:
            parser.error(f'--{key.replace("_", "-")} must be a positive integer')
    return args


def main(argv=None) -> int:
    return run_tool('derive.py', derive, parse_args(argv))


if __name__ == '__main__':
    sys.exit(main())
