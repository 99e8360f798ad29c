"""Distributed data parallel on 2 CPU processes (gloo): the search shares one architecture per step and equals one
process with the same global batch; torchrun runs the search and retraining through the real entry point."""
import copy
import itertools
import os
import re
import socket
import subprocess
import sys

import pytest
import torch
import yaml

from tiny_options import SINGLE, retrain_options, search_options

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STEPS = 6  # weight steps; controller rounds after steps 2, 4 and 6


def batches(seed, size):
    """Fixed (lq, gt) tensors: ``size`` samples of 12x12 -> 24x24."""
    g = torch.Generator().manual_seed(seed)
    return {'lq': torch.rand(size, 3, 12, 12, generator=g), 'gt': torch.rand(size, 3, 24, 24, generator=g)}


def cat(a, b):
    return {k: torch.cat([a[k], b[k]]) for k in a}


def run_search(rank, world, init_file, out):
    """STEPS search iterations; rank r trains on weight batch r and rewards on controller batch r. With world 1,
    the process gets both batches of each kind (the same global batch)."""
    import torch.distributed as dist
    from basicsr.models import build_model

    import hnas_basicsr  # noqa: F401  (registers the plugin)
    from hnas_basicsr.nas import space
    torch.set_num_threads(1)
    if world > 1:
        dist.init_process_group('gloo', init_method=f'file://{init_file}', rank=rank, world_size=world)
    opt = search_options('ddp', STEPS)
    opt.pop('datasets')
    opt['network_g']['normalize'] = False  # BatchNorm statistics are per rank: equal to one process only without it
    opt['search'].update(weight_steps=2, controller_steps=2)
    opt.update(is_train=True, dist=world > 1, rank=rank, world_size=world, auto_resume=False, root_path=out)
    opt['path'].update(models=out, training_states=out)
    torch.manual_seed(0)
    model = build_model(opt)
    if rank == 1:
        model.generator.manual_seed(12345)  # left alone, this rank would sample other architectures
    weights, rewards = [batches(1, 1), batches(2, 1)], [batches(3, 1), batches(4, 1)]
    weight_batch = weights[rank] if world > 1 else cat(*weights)
    model.controller_batches = itertools.repeat(rewards[rank] if world > 1 else cat(*rewards))
    bare = model.get_bare_model(model.net_g)
    sequence = []
    for it in range(1, STEPS + 1):
        model.feed_data(weight_batch)
        model.optimize_parameters(it)
        sequence.append(space.encode(bare.genotype))
    torch.save({'genotypes': sequence, 'net_g': bare.state_dict(), 'net_c': model.net_c.state_dict(),
                'baseline': model.baselines[0].value, 'ddp': type(model.net_g).__name__},
               os.path.join(out, f'world{world}_rank{rank}.pt'))
    if world > 1:
        dist.destroy_process_group()


def test_ddp_search_shares_architectures_and_equals_one_process_with_the_global_batch(tmp_path):
    import torch.multiprocessing as mp
    mp.start_processes(run_search, args=(2, str(tmp_path / 'init'), str(tmp_path)), nprocs=2, start_method='spawn')
    run_search(0, 1, None, str(tmp_path))
    ranks = [torch.load(tmp_path / f'world2_rank{r}.pt', weights_only=True) for r in (0, 1)]
    single = torch.load(tmp_path / 'world1_rank0.pt', weights_only=True)
    assert ranks[0]['ddp'] == 'DistributedDataParallel' and single['ddp'] == 'HNASSuperNet'
    assert ranks[0]['genotypes'] == ranks[1]['genotypes'] == single['genotypes']
    assert len({tuple(g) for g in single['genotypes']}) > 1  # the architectures change along the run
    for key in ('net_g', 'net_c'):
        for name, value in single[key].items():
            assert torch.equal(ranks[0][key][name], ranks[1][key][name]), f'{key}.{name} differs between ranks'
            assert torch.allclose(ranks[0][key][name], value, atol=1e-5), f'{key}.{name}: 2 ranks != 1 process'
    assert ranks[0]['baseline'] == ranks[1]['baseline'] == pytest.approx(single['baseline'], abs=1e-6)


# ---- torchrun --------------------------------------------------------------------------------------------------------
def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def torchrun(root, opt, nproc):
    path = root / f'{opt["name"]}.yml'
    path.write_text(yaml.safe_dump(opt, sort_keys=False))
    launcher = ['-m', 'torch.distributed.run', f'--nproc_per_node={nproc}', f'--master_port={free_port()}'] \
        if nproc > 1 else []
    cmd = [sys.executable, *launcher, os.path.join(REPO, 'hnas_basicsr', 'train.py'), '-opt', str(path)]
    cmd += ['--launcher', 'pytorch'] if nproc > 1 else []
    proc = subprocess.run(cmd, env=dict(os.environ, HNAS_ROOT=str(root), OMP_NUM_THREADS='1'), capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return root / 'experiments' / opt['name']


def test_torchrun_retraining_on_two_cpu_processes_equals_one_process(root):
    """SINGLE has 2 training samples: 2 ranks x batch 1 see the same global batch as 1 process x batch 2."""
    base = retrain_options(total_iter=4, dataroot=SINGLE)
    base['datasets']['train'].update(use_hflip=False, use_rot=False)
    two = copy.deepcopy(base)
    two['name'] = 'ddp_retrain'
    two['datasets']['train']['batch_size_per_gpu'] = 1
    one = copy.deepcopy(base)
    one['name'] = 'one_retrain'
    one['datasets']['train']['batch_size_per_gpu'] = 2
    exp_two, exp_one = torchrun(root, two, 2), torchrun(root, one, 1)
    log = open(next(exp_two.glob('train_*.log'))).read()
    assert re.search(r'world_size: 2', log), log[:3000]
    a = torch.load(exp_two / 'models' / 'net_g_4.pth', weights_only=True)['params']
    b = torch.load(exp_one / 'models' / 'net_g_4.pth', weights_only=True)['params']
    for name in a:
        assert torch.allclose(a[name], b[name], atol=1e-5), name
    assert len(list(exp_two.glob('train_*.log'))) == 1  # only rank 0 writes


def test_torchrun_search_on_two_cpu_processes(root):
    opt = search_options('ddp_search', 6)
    exp = torchrun(root, opt, 2)
    log = open(next(exp.glob('train_*.log'))).read()
    assert re.search(r'iter:\s*6,', log) and 'reward:' in log
    for it in (3, 6):
        assert (exp / 'models' / f'net_c_{it}.pth').is_file()
        torch.load(exp / 'training_states' / f'{it}.state', weights_only=True)
