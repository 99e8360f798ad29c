"""The whole HNAS story on the default data, with no arguments: ``make demo``.

Stages: (1) prepare the scikit-image sample photos (tools/prepare_data.py), (2) search with
options/hnas_search.yml (hnas_basicsr/train.py, resumable: an interrupted demo continues where it
stopped), (3) derive and export the best architectures (tools/derive.py), (4) retrain the best one
from scratch, briefly and at a CPU-sized width, with HNASSRModel (BasicSR's SRModel, checked), (5) train an
EDSR of similar multiply-adds with the same data and schedule, (6) benchmark both beside bicubic on the held-out images
(tools/benchmark.py): table and plot. Every stage is the command a user would type; each is printed first.
"""
import copy
import os
import subprocess
import sys
import time
from os import path as osp

ROOT = osp.abspath(osp.join(osp.dirname(__file__), osp.pardir))
sys.path.insert(0, ROOT)

import yaml  # noqa: E402

from hnas_basicsr.nas.cost import DEFAULT_LR_SIZE, count_cost  # noqa: E402
from hnas_basicsr.networks import build  # noqa: E402

SEARCH_OPT = 'options/hnas_search.yml'
EXPERIMENT = 'experiments/hnas_search_demo'
OUT = 'results/demo'
DERIVED = f'{OUT}/derived'
HELD_OUT = 'datasets/skimage/val'
RETRAIN = {'num_feat': 16, 'total_iter': 1000}
STAGES = 6


def run(stage, title, args):
    """Run one stage as a subprocess from the repo root; stop the demo if it fails."""
    print(f'\n=== [{stage}/{STAGES} {title}] {" ".join(args)}', flush=True)
    start = time.time()
    result = subprocess.run([sys.executable] + args, cwd=ROOT)
    if result.returncode != 0:
        print(f'demo: stage {stage} ({title}) failed (exit {result.returncode}); fix the error above and run make '
              'demo again (finished stages are kept)', file=sys.stderr)
        sys.exit(result.returncode)
    print(f'=== [{stage}/{STAGES} {title}] done in {time.time() - start:.0f} s', flush=True)


def similar_edsr(net_opt):
    """EDSR-baseline ``network_g`` at the same width whose multiply-adds are closest to ``net_opt``'s (its cost grows
    linearly with its blocks, so two counts give the number of blocks; no upper limit)."""
    target = count_cost(build(net_opt, 'derived network'), DEFAULT_LR_SIZE, 3).macs

    def edsr(num_block):
        opt = {'type': 'EDSR', 'num_in_ch': 3, 'num_out_ch': 3, 'num_feat': net_opt['num_feat'],
               'num_block': num_block, 'upscale': net_opt['upscale'], 'res_scale': 1, 'img_range': 255.,
               'rgb_mean': [0.4488, 0.4371, 0.4040]}
        return opt, count_cost(build(opt, 'EDSR'), DEFAULT_LR_SIZE, 3).macs

    (_, one), (_, two) = edsr(1), edsr(2)
    opt, macs = edsr(max(1, round(1 + (target - one) / (two - one))))
    print(f'demo: EDSR with {opt["num_block"]} blocks of {opt["num_feat"]} features: {macs / 1e9:.1f} G '
          f'multiply-adds against the derived network\'s {target / 1e9:.1f} G (480x480 LR)', flush=True)
    return opt


def edsr_options(hnas_train_opt):
    """The exported training options with the network swapped for an EDSR of similar cost: same data and schedule."""
    with open(osp.join(ROOT, hnas_train_opt)) as f:
        opt = yaml.safe_load(f)
    edsr = copy.deepcopy(opt)
    edsr['name'] = 'train_EDSR_demo_x2'
    edsr['network_g'] = similar_edsr(opt['network_g'])
    path = f'{OUT}/train_EDSR_demo_x2.yml'
    with open(osp.join(ROOT, path), 'w') as f:
        yaml.safe_dump(edsr, f, sort_keys=False)
    return path


def main():
    start = time.time()
    run(1, 'prepare data', ['tools/prepare_data.py'])
    run(2, 'search', ['hnas_basicsr/train.py', '-opt', SEARCH_OPT, '--auto_resume'])
    run(3, 'derive and export',
        ['tools/derive.py', '-opt', SEARCH_OPT, '--experiment', EXPERIMENT, '--out', DERIVED, '--name', 'HNAS_demo',
         '--num-feat', str(RETRAIN['num_feat']), '--total-iter', str(RETRAIN['total_iter']), '--samples', '6',
         '--max-patches', '32'])
    hnas = osp.join(DERIVED, 'rank1', 'train_HNAS_demo_rank1_x2.yml')
    run(4, 'retrain the best architecture', ['hnas_basicsr/train.py', '-opt', hnas, '--auto_resume',
                                            '--force_yml', 'logger:print_freq=50'])
    edsr = edsr_options(hnas)
    run(5, 'train an EDSR of similar cost', ['hnas_basicsr/train.py', '-opt', edsr, '--auto_resume',
                                            '--force_yml', 'logger:print_freq=50'])
    run(6, 'benchmark on the held-out images',
        ['tools/benchmark.py', '-opt', hnas, edsr, '--labels', 'HNAS (searched)', 'EDSR (similar cost)', '--sets',
         HELD_OUT, '--out', f'{OUT}/benchmark', '--runs', '1'])
    print(f'\ndemo: finished in {(time.time() - start) / 60:.1f} min. Ranking: {DERIVED}/ranking.md; exported '
          f'options and picture: {DERIVED}/rank1/; table and plot: {OUT}/benchmark/; '
          'TensorBoard: tensorboard --logdir tb_logger')


if __name__ == '__main__':
    os.environ.setdefault('PYTHONUNBUFFERED', '1')
    main()
