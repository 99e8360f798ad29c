"""The whole HNAS story on the default data, with no arguments: ``make demo``.

Stages: (1) prepare the scikit-image sample photos (tools/prepare_data.py), (2) search with
options/hnas_search.yml (hnas_basicsr/train.py, resumable: an interrupted demo continues where it
stopped), (3) derive and export the best architectures (tools/derive.py), (4) retrain the best one
from scratch, briefly and at a CPU-sized width, with BasicSR's SRModel and report its validation PSNR.
Every stage is the command a user would type; each is printed before it runs.
"""
import os
import subprocess
import sys
import time
from os import path as osp

ROOT = osp.abspath(osp.join(osp.dirname(__file__), osp.pardir))
SEARCH_OPT = 'options/hnas_search.yml'
EXPERIMENT = 'experiments/hnas_search_demo'
DERIVED = 'results/demo/derived'
RETRAIN = {'num_feat': 16, 'total_iter': 200}


def run(stage, args):
    """Run one stage as a subprocess from the repo root; stop the demo if it fails."""
    command = [sys.executable] + args
    print(f'\n=== [{stage}] {" ".join(args)}', flush=True)
    start = time.time()
    result = subprocess.run(command, cwd=ROOT)
    if result.returncode != 0:
        print(f'demo: stage {stage} failed (exit {result.returncode}); fix the error above and run make demo again '
              '(finished stages are kept)', file=sys.stderr)
        sys.exit(result.returncode)
    print(f'=== [{stage}] done in {time.time() - start:.0f} s', flush=True)


def main():
    start = time.time()
    run('1/4 prepare data', ['tools/prepare_data.py'])
    run('2/4 search', ['hnas_basicsr/train.py', '-opt', SEARCH_OPT, '--auto_resume'])
    run('3/4 derive and export',
        ['tools/derive.py', '-opt', SEARCH_OPT, '--experiment', EXPERIMENT, '--out', DERIVED, '--name', 'HNAS_demo',
         '--num-feat', str(RETRAIN['num_feat']), '--total-iter', str(RETRAIN['total_iter']), '--samples', '10',
         '--max-patches', '32'])
    exported = osp.join(DERIVED, 'rank1', 'train_HNAS_demo_rank1_x2.yml')
    run('4/4 retrain the best architecture',
        ['hnas_basicsr/train.py', '-opt', exported, '--auto_resume', '--force_yml', 'logger:print_freq=50'])
    print(f'\ndemo: finished in {(time.time() - start) / 60:.1f} min. Ranking: {DERIVED}/ranking.md; exported '
          f'options and picture: {DERIVED}/rank1/; retrained model: experiments/train_HNAS_demo_rank1_x2/; '
          'TensorBoard: tensorboard --logdir tb_logger')


if __name__ == '__main__':
    os.environ.setdefault('PYTHONUNBUFFERED', '1')
    main()
