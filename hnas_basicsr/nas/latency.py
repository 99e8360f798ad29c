"""Latency of any architecture of the space on one device, predicted from a table measured once on it.

A path's latency is modelled as the sum of its parts (:func:`hnas_basicsr.nas.cost.path_parts`): the head and the
tail, each cell's two input convs, each edge's op at the resolution it runs at, each cell's own work (node sums and
concatenation) and, per upsampling position, what the network adds around the cells (mean shifts, skips, residual
additions). :func:`measure_latency_table` times every op alone and the rest as the difference between a whole
cell or network of identity-like edges and its timed parts (median of ``runs`` timed calls after one warm-up, batch
1, ``torch.no_grad``, the cells' memory format). The table is plain YAML with the device and settings it was
measured with; :class:`LatencyTable` loads it and refuses a network it was not measured for.
"""
import statistics
import time

import torch
import yaml
from torch import nn

from hnas_basicsr.nas.cost import path_parts
from hnas_basicsr.nas.genotype import Genotype
from hnas_basicsr.nas.space import NORMAL_OPS, NUM_NODES, UPSAMPLING_OPS

SETTINGS = ('num_feat', 'num_layers', 'upscale', 'num_in_ch', 'num_out_ch', 'lr_size', 'global_skip', 'cell_residual')


def key_name(key):
    """A path part's key as text (the table's YAML keys): 'head', 'pre/lr', 'normal/rcab/hr', 'upsampling/area/input',
    'network/7'."""
    if isinstance(key, str):
        return key
    if key[0] == 'upsampling':
        return f"upsampling/{key[1]}/{'input' if key[2] else 'inner'}"
    return '/'.join(map(str, key))


def time_ms(fn, runs, device):
    """Median wall time of ``fn()`` in ms over ``runs`` calls after one warm-up call."""
    sync = torch.cuda.synchronize if device.type == 'cuda' else (lambda: None)
    times = []
    with torch.no_grad():
        for i in range(runs + 1):
            sync()
            start = time.perf_counter()
            fn()
            sync()
            if i:
                times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def _uniform_genotype(position):
    """The genotype whose edges are all the cheapest: identity in normal cells, nearest in the upsampling cell."""
    return Genotype(normal=((('identity', 0), ('identity', 1)),) * NUM_NODES,
                    upsampling=((('nearest', 0), ('nearest', 1)),) * NUM_NODES, position=position)


def measure_latency_table(num_feat=64, num_layers=12, upscale=2, lr_size=(120, 120), device='cpu', runs=5,
                          global_skip='bicubic', cell_residual=True, num_in_ch=3, num_out_ch=3, progress=None):
    """Time every part of the space's networks on ``device``; returns the table as a plain dict (see module doc).

    ``progress(done, total, name)`` is called after each entry.
    """
    from hnas_basicsr.archs.hnas_arch import HNASNet
    from hnas_basicsr.nas.cells import Cell
    from hnas_basicsr.nas.operations import build_op
    device = torch.device(device)
    fmt = HNASNet.memory_format
    width, lr = NUM_NODES * num_feat, tuple(lr_size)
    sizes = {'lr': lr, 'hr': (lr[0] * upscale, lr[1] * upscale)}

    def features(res, channels=num_feat):
        return torch.rand(1, channels, *sizes[res], device=device).contiguous(memory_format=fmt)

    def timed(module, *inputs):
        module = module.to(device).eval()
        return time_ms(lambda: module(*inputs), runs, device)

    jobs = {'head': lambda: timed(nn.Conv2d(num_in_ch, width, 3, padding=1, bias=False), features('lr', num_in_ch)),
            'tail': lambda: timed(nn.Conv2d(width, num_out_ch, 3, padding=1), features('hr', width))}
    for res in sizes:
        jobs['pre', res] = lambda res=res: timed(nn.Conv2d(width, num_feat, 1, bias=False), features(res, width))
        for op in NORMAL_OPS:
            jobs['normal', op, res] = lambda op=op, res=res: timed(build_op('normal', op, num_feat, upscale),
                                                                   features(res))
    for op in UPSAMPLING_OPS:
        for from_input in (True, False):
            jobs['upsampling', op, from_input] = lambda op=op, f=from_input: timed(
                build_op('upsampling', op, num_feat, upscale if f else 1), features('lr' if f else 'hr'))
    ms = {}

    def rest(total, genotype, keys):
        return total - sum(ms[key] for key in keys)

    uniform = _uniform_genotype(1)
    for res in sizes:  # a normal cell beyond its input convs and edges
        jobs['cell', res] = lambda res=res: rest(
            timed(Cell('normal', uniform.normal, width, num_feat, upscale), features(res, width), features(res, width)),
            uniform, [('pre', res)] * 2 + [('normal', op, res) for node in uniform.normal for op, _ in node])
    jobs['cell', 'up'] = lambda: rest(
        timed(Cell('upsampling', uniform.upsampling, width, num_feat, upscale), features('lr', width),
              features('lr', width)),
        uniform, [('pre', 'lr')] * 2 + [('upsampling', op, s < 2) for node in uniform.upsampling for op, s in node])
    for p in range(1, num_layers + 1):  # what the network adds around its cells, per upsampling position
        genotype = _uniform_genotype(p)
        net = HNASNet(genotype.to_dict(), num_in_ch, num_out_ch, num_feat, num_layers, upscale,
                      global_skip=global_skip, cell_residual=cell_residual, init='pytorch')
        jobs['network', p] = lambda net=net, genotype=genotype, p=p: rest(
            timed(net, torch.rand(1, num_in_ch, *lr, device=device)), genotype,
            [k for k in path_parts(genotype, num_layers) if k != ('network', p)])
    for done, (key, job) in enumerate(jobs.items(), 1):
        ms[key] = job()
        if progress:
            progress(done, len(jobs), key_name(key))
    settings = dict(num_feat=num_feat, num_layers=num_layers, upscale=upscale, num_in_ch=num_in_ch,
                    num_out_ch=num_out_ch, lr_size=list(lr), global_skip=global_skip, cell_residual=cell_residual)
    return {'device': device_name(device), 'threads': torch.get_num_threads(), 'torch': str(torch.__version__),
            'runs': runs, **settings, 'ms': {key_name(key): round(value, 4) for key, value in ms.items()}}


def network_settings(hparams, num_feat=None):
    """The settings of an HNASNet (its ``hparams``) that a table must have been measured for, but ``lr_size``:
    the expectation :class:`LatencyTable` checks (``num_feat`` overrides the network's width)."""
    return {k: num_feat if k == 'num_feat' and num_feat is not None else hparams[k] for k in SETTINGS
            if k != 'lr_size'}


def device_name(device):
    """The device as a person would name it: 'cpu (x86_64, 2 threads)', 'cuda:0 (NVIDIA A100 ...)'."""
    device = torch.device(device)
    if device.type == 'cuda':
        return f'{device} ({torch.cuda.get_device_name(device)})'
    import platform
    return f'cpu ({platform.machine()}, {torch.get_num_threads()} threads)'


class LatencyTable:
    """Predicted latency (ms) of HNASNet paths from a table of :func:`measure_latency_table` (a dict or YAML file).

    Args:
        table (dict | str): The table, or the path of its YAML file.
        expect (dict, optional): Settings (``num_feat``, ``num_layers``, ``upscale``, ``lr_size``, ...) the network
            has; a table measured with other values raises ValueError naming them.
    """

    def __init__(self, table, expect=None):
        source = table if isinstance(table, str) else 'the latency table'
        if isinstance(table, str):
            try:
                with open(table) as f:
                    table = yaml.safe_load(f)
            except yaml.YAMLError as exc:
                raise ValueError(f'{source}: not YAML ({str(exc).splitlines()[0]})') from None
        missing = [k for k in (*SETTINGS, 'ms', 'device') if not isinstance(table, dict) or k not in table]
        if missing:
            raise ValueError(f'{source}: not a latency table (missing {", ".join(missing)}); build one with '
                             'tools/build_latency_table.py')
        wrong = {k: (table[k], v) for k, v in (expect or {}).items()
                 if (list(v) if isinstance(v, (tuple, list)) else v) != table[k]}
        if wrong:
            raise ValueError(f'{source}: measured for another network: ' + ', '.join(
                f'{k} {t!r} (expected {v!r})' for k, (t, v) in wrong.items()))
        self.table, self.source = table, source
        self.num_layers = table['num_layers']
        keys = {key_name(k) for p in range(1, self.num_layers + 1) for k in path_parts(_uniform_genotype(p),
                                                                                       self.num_layers)}
        keys |= {f'normal/{op}/{res}' for op in NORMAL_OPS for res in ('lr', 'hr')}
        keys |= {f'upsampling/{op}/{where}' for op in UPSAMPLING_OPS for where in ('input', 'inner')}
        missing = sorted(keys - set(table['ms']))
        if missing:
            raise ValueError(f'{source}: no entry for {", ".join(missing[:5])}{" ..." if len(missing) > 5 else ""}; '
                             'rebuild it with tools/build_latency_table.py')

    @property
    def device(self):
        return self.table['device']

    def latency_ms(self, genotype):
        """Predicted latency in ms of the HNASNet of ``genotype`` for one LR input of the table's ``lr_size``."""
        return sum(self.table['ms'][key_name(key)] for key in path_parts(genotype, self.num_layers))
