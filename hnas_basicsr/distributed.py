"""Distributed runs on BasicSR's launchers (torchrun, slurm) with the backend of the options: nccl on GPUs,
gloo on CPUs. basicsr 1.4.2 hard-codes nccl and CUDA device ids: :func:`init_dist` replaces its own
(:mod:`hnas_basicsr.patches`), :func:`wrap_model` is ``HNASSRModel.model_to_device``."""
import inspect
import os
import subprocess

import torch
import torch.distributed as dist
from torch.nn.parallel import DataParallel, DistributedDataParallel

from hnas_basicsr.cli import ToolError

_OPTIONS = {'dist_params': None}  # the option file's dist_params, set before basicsr calls init_dist


def use_options(opt):
    """Remember the option file's ``dist_params`` (basicsr calls ``init_dist`` without them for torchrun)."""
    _OPTIONS['dist_params'] = opt.get('dist_params') if isinstance(opt, dict) else None


def init_dist(launcher, backend=None, port=None, **kwargs):
    """Join the process group of a ``pytorch`` (torchrun) or ``slurm`` launch."""
    params = _OPTIONS['dist_params'] if isinstance(_OPTIONS['dist_params'], dict) else {}
    backend = backend or params.get('backend') or ('nccl' if torch.cuda.is_available() else 'gloo')
    if backend not in ('nccl', 'gloo'):
        raise ToolError(f'dist_params.backend: expected nccl (GPUs) or gloo (CPUs), got {backend!r}')
    if backend == 'nccl' and not torch.cuda.is_available():
        raise ToolError('dist_params.backend: nccl needs GPUs and none is visible; set backend: gloo to run on CPUs')
    if launcher == 'slurm':
        _slurm_environment(port or params.get('port'))
    elif 'RANK' not in os.environ:
        raise ToolError('--launcher pytorch: no RANK in the environment; start with torchrun --nproc_per_node=N ...')
    if backend == 'nccl':
        torch.cuda.set_device(int(os.environ.get('LOCAL_RANK', 0)) % torch.cuda.device_count())
    dist.init_process_group(backend=backend)


def _slurm_environment(port):
    """The variables torch.distributed reads, from slurm's (as basicsr does, without assuming GPUs)."""
    proc_id, ntasks = int(os.environ['SLURM_PROCID']), int(os.environ['SLURM_NTASKS'])
    node_list = os.environ['SLURM_NODELIST']
    os.environ['MASTER_ADDR'] = subprocess.getoutput(f'scontrol show hostname {node_list} | head -n1')
    os.environ.setdefault('MASTER_PORT', str(port or 29500))
    per_node = int(os.environ.get('SLURM_NTASKS_PER_NODE', '1').split('(')[0])
    os.environ.update(WORLD_SIZE=str(ntasks), RANK=str(proc_id), LOCAL_RANK=str(proc_id % per_node))


def wrap_model(net, opt, device):
    """``net`` on ``device``, in DDP when ``opt['dist']`` (CUDA device ids on GPUs only, no buffer broadcasts in the
    forward pass: basicsr validates on rank 0 alone, where a broadcast would wait for the other ranks forever), in
    DataParallel on several GPUs."""
    net = net.to(device)
    if opt['dist']:
        device_ids = [torch.cuda.current_device()] if device.type == 'cuda' else None
        no_forward_sync = {'forward_sync_buffers': False} if 'forward_sync_buffers' in inspect.signature(
            DistributedDataParallel).parameters else {'broadcast_buffers': False}  # (the name before torch 2.14)
        net = DistributedDataParallel(net, device_ids=device_ids, **no_forward_sync,
                                      find_unused_parameters=opt.get('find_unused_parameters', False))
    elif opt['num_gpu'] > 1:
        net = DataParallel(net)
    return net


def is_distributed():
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def broadcast_object(obj, src=0):
    """Rank ``src``'s ``obj`` on every rank (unchanged when not distributed)."""
    if not is_distributed():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def mean_over_ranks(value):
    """The mean of a float over all ranks."""
    if not is_distributed():
        return value
    device = 'cuda' if dist.get_backend() == 'nccl' else 'cpu'
    tensor = torch.tensor([float(value)], dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return tensor.item() / dist.get_world_size()


def broadcast_module(module, src=0):
    """Copy rank ``src``'s parameters and buffers to every rank."""
    if is_distributed():
        for tensor in list(module.parameters()) + list(module.buffers()):
            dist.broadcast(tensor.data, src=src)
