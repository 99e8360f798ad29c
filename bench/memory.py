"""Peak memory (RSS) of search, retraining and inference on the CPU, each case in a fresh process.

Usage::

    python bench/memory.py                 # all cases, a few minutes on 2 cores
    python bench/memory.py --case infer_tiled
    python bench/memory.py --baseline      # also each case as before: NCHW, glibc's malloc defaults
    python bench/memory.py --saved         # bytes the search saves for backward, by BatchNorm formulation

Cases (x2, random weights: memory does not depend on their values):
  search          5 iterations of HNASSearchModel's steps at the settings of options/hnas_search.yml
                  (supernet C=8, L=12, batch 8 of 48x48 HR patches), a controller round included;
  search_paper    the same at the paper's batch 16 of 96x96 patches;
  retrain_A_64    3 SRModel steps of HNAS-A at 64 channels, batch 16 of 96x96 HR patches (the paper's setting);
  infer_whole     HNAS-A at 64 channels on a 600x512 LR image (1200x1024 HR, the size of Urban100/Manga109
                  pages), in one piece;
  infer_tiled     the same in tiles of 256 LR px with 32 px of context (tools/benchmark.py --tile 256);
  infer_compiled  infer_whole under torch.compile (tools/benchmark.py --compile; compiled on a small image first, as
                  the benchmark's warm-up does, so the peak is the inference's).
Reported: peak resident set size of the process, and its growth over the process after imports and set-up.
Cases run as the entry points run them (cells channels_last, freed memory reused: hnas_basicsr.allocator);
``--baseline`` runs each case a second time in the former layout (NCHW) with glibc's malloc at its defaults.
The growth during a case moves by 10-60 % between runs of it (glibc's heap); ``--saved`` counts what does not: the
bytes the supernet saves for backward in one forward pass (distinct storages), on bench/fast_ops.py's 8 genotypes
at batch 2 (48x48 LR, C = 8, L = 12, x2), with the cells' BatchNorm as PyTorch's BatchNorm2d and as CellBatchNorm.
"""
import argparse
import json
import resource
import subprocess
import sys
import time
from os import path as osp

import hnas_basicsr  # noqa: F401  (registers the plugin; before basicsr)

ROOT = osp.abspath(osp.join(osp.dirname(__file__), osp.pardir))
CASES = ('search', 'search_paper', 'retrain_A_64', 'infer_whole', 'infer_tiled', 'infer_compiled')


def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def search_case(batch, gt_size):
    import copy

    import torch
    import yaml
    from basicsr.models import build_model

    opt = yaml.safe_load(open(osp.join(ROOT, 'options', 'hnas_search.yml')))
    opt.pop('datasets')
    opt['search'].update(weight_steps=2, controller_steps=2)
    opt.update(is_train=True, dist=False, rank=0, world_size=1, auto_resume=False, root_path='/tmp')
    opt['path'].update(models='/tmp', training_states='/tmp')
    model = build_model(copy.deepcopy(opt))
    lr = gt_size // 2
    data = {'lq': torch.rand(batch, 3, lr, lr), 'gt': torch.rand(batch, 3, gt_size, gt_size)}
    model.controller_batches = iter([data] * 100)
    before = peak_mb()
    for it in range(1, 6):
        model.feed_data(data)
        model.optimize_parameters(it)
    return before


def retrain_case():
    import torch

    from hnas_basicsr.archs.hnas_arch import HNASNet
    from hnas_basicsr.nas.genotype import published_genotypes
    net = HNASNet(published_genotypes()['HNAS_A'].to_dict(), num_feat=64, upscale=2)
    optimizer = torch.optim.Adam(net.parameters(), 1e-3)
    lq, gt = torch.rand(16, 3, 48, 48), torch.rand(16, 3, 96, 96)
    before = peak_mb()
    for _ in range(3):
        optimizer.zero_grad()
        (net(lq) - gt).abs().mean().backward()
        optimizer.step()
    return before


def infer_case(tile, compile=False):
    import torch

    from hnas_basicsr.archs.hnas_arch import HNASNet
    from hnas_basicsr.benchmark import forward_tiled
    from hnas_basicsr.nas.genotype import published_genotypes
    net = HNASNet(published_genotypes()['HNAS_A'].to_dict(), num_feat=64, upscale=2).eval()
    if compile:
        net = torch.compile(net, dynamic=True)
        with torch.no_grad():
            net(torch.rand(1, 3, 40, 36))
    lq = torch.rand(1, 3, 600, 512)
    before = peak_mb()
    forward_tiled(net, lq, 2, tile, 32)
    return before


def saved_for_backward():
    """Print the MB one supernet forward pass saves for backward, per BatchNorm formulation, summed over genotypes."""
    import torch
    from fast_ops import PyTorchNorms, search_step

    supernet, _, genotypes = search_step(8, batch=2)
    lq = torch.rand(2, 3, 48, 48)

    def saved_mb():
        total = 0
        for genotype in genotypes:
            storages = {}

            def pack(t):
                storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
                return t
            with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
                supernet(lq, genotype)
            total += sum(storages.values())
        return total / 2 ** 20

    with PyTorchNorms(supernet):
        before = saved_mb()
    print(f'saved for backward, 8 genotypes, batch 2: BatchNorm2d {before:.0f} MB, CellBatchNorm {saved_mb():.0f} MB')


def run_case(case, baseline):
    """Run one case in this process; print a JSON line."""
    import torch

    from hnas_basicsr.allocator import reuse_freed_memory
    from hnas_basicsr.archs.hnas_arch import HNASStemTail
    torch.set_num_threads(2)
    if baseline:
        HNASStemTail.memory_format = torch.contiguous_format
    else:
        reuse_freed_memory()
    start = time.time()
    before = {'search': lambda: search_case(8, 48), 'search_paper': lambda: search_case(16, 96),
              'retrain_A_64': retrain_case, 'infer_whole': lambda: infer_case(0),
              'infer_tiled': lambda: infer_case(256), 'infer_compiled': lambda: infer_case(0, compile=True)}[case]()
    print(json.dumps({'case': case, 'peak_mb': round(peak_mb()), 'growth_mb': round(peak_mb() - before),
                      'seconds': round(time.time() - start, 1)}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--case', choices=CASES, help='one case (default: all, one process each)')
    parser.add_argument('--baseline', action='store_true', help='also run each case in NCHW with glibc defaults')
    parser.add_argument('--saved', action='store_true', help='only the bytes the search saves for backward')
    parser.add_argument('--in-process', action='store_true', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.saved:
        if args.case or args.baseline:
            parser.error('--saved counts the search alone: no --case or --baseline with it')
        saved_for_backward()
        return
    if args.in_process:
        run_case(args.case, args.baseline)
        return
    rows = []
    for case in [args.case] if args.case else CASES:
        for baseline in (False, True) if args.baseline else (False,):
            print(f'memory: {case}{" (baseline)" if baseline else ""} ...', flush=True)
            command = [sys.executable, __file__, '--case', case, '--in-process'] + ['--baseline'] * baseline
            out = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
            if out.returncode != 0:
                sys.exit(f'memory: {case} failed:\n{out.stderr[-2000:]}')
            rows.append(dict(json.loads(out.stdout.strip().splitlines()[-1]), baseline=baseline))
    print('\n| case | run as | peak RSS (MB) | growth during the case (MB) | time (s) |\n|---|---|---|---|---|')
    for r in rows:
        run_as = 'NCHW, glibc defaults' if r['baseline'] else 'channels_last, memory reused'
        print(f'| {r["case"]} | {run_as} | {r["peak_mb"]} | {r["growth_mb"]} | {r["seconds"]} |')


if __name__ == '__main__':
    main()
