"""CPU speed of the HNAS ops: NCHW (the former layout) against channels_last (the default), side by side.

Usage: python bench/fast_ops.py [--archs 8] [--repeats 3] [--lr-size 480] [--runs 3] [--threads 2]
       [--part step infer ops norm profile edges] [--allocator reuse|glibc] [--compile] [--freeze] [--jit]

(a) ``step``: one supernet weight step (forward, L1 loss, backward, Adam) on each of ``--archs`` random
    genotypes (seeded), batch 16, 48x48 LR, C = 8, L = 12, x2, normalised supernet as searched, in three
    formulations that alternate on the same genotype so all see the same load: NCHW (the former layout),
    channels_last with PyTorch's BatchNorm2d in the cells, and channels_last with the cells' CellBatchNorm (the
    default). Printed: median seconds of each and the speed-up of the default over NCHW, per genotype and
    overall (sum of medians).
(b) ``infer``: latency of one ``--lr-size`` square LR image (x2, no grad), HNAS-A/B/C at 64 features in both
    layouts and basicsr's EDSR-baseline (16 blocks, 64 features) in the same run, alternating; printed per
    network: median seconds, multiply-adds (count_macs, same input), G multiply-adds per second, and the
    seconds per multiply-add relative to EDSR's. ``--compile`` adds each network under ``torch.compile``
    (inductor, static shapes; channels_last for HNAS), its compilation timed apart and not in the latency;
    ``--freeze`` the same with inductor's freezing (weights folded and prepacked, conv-pointwise fusions);
    ``--jit`` adds each as TorchScript (traced on the image, frozen, torch.jit.optimize_for_inference), likewise.
(c) ``ops`` (not run by default): the depthwise (dilated) convs of the sep/dil ops alone, in three formulations:
    PyTorch's depthwise conv in NCHW and in channels_last (oneDNN), and a dense conv with a block-diagonal
    weight (C times the multiply-adds, oneDNN's dense kernels) in channels_last; forward and backward at the search
    shapes (batch 16, C = 8, 48x48 and 96x96), forward without grad at the inference shape (1 image, C = 64,
    ``--lr-size``). Printed: median milliseconds of each.
(d) ``norm`` (not run by default): the supernet's BatchNorm (no affine, batch statistics) alone, forward and
    backward, batch 16, channels_last input: PyTorch's kernel on it, and CellBatchNorm (NCHW in between below 16
    channels). Printed: median milliseconds and the largest output error against float64.
(e) ``profile`` (not run by default): PyTorch's profiler over the step of (a) on its 8 genotypes, the default
    formulation, after one warm-up step each. Printed: the ops with the most self CPU time.
(f) ``edges`` (not run by default): each normal op of the supernet with its BatchNorm alone, forward and backward at
    the search shapes, eager and under ``torch.compile``.
``--allocator glibc`` leaves glibc's malloc at its defaults instead of reusing freed memory as the entry points
do (:mod:`hnas_basicsr.allocator`); the allocator is per process, so compare two runs. Run it from the repository
root on an otherwise idle machine.
"""
import argparse
import contextlib
import random
import resource
import statistics
import sys
import time

import hnas_basicsr  # noqa: F401  (registers the plugin; before basicsr)
import torch
from basicsr.archs.edsr_arch import EDSR
from torch.nn import functional as F

from hnas_basicsr.allocator import reuse_freed_memory
from hnas_basicsr.archs.hnas_arch import HNASNet
from hnas_basicsr.archs.hnas_supernet_arch import HNASSuperNet
from hnas_basicsr.nas import space
from hnas_basicsr.nas.cells import CellBatchNorm
from hnas_basicsr.nas.cost import count_macs
from hnas_basicsr.nas.genotype import published_genotypes
from hnas_basicsr.nas.operations import build_op

LAYOUTS = {'NCHW': torch.contiguous_format, 'channels_last': torch.channels_last}


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def kernel_share(fn):
    """(system seconds, user seconds, minor page faults) of one call of ``fn``, all threads of the process: the
    kernel's share is mostly zero-filling freshly mapped pages."""
    before = resource.getrusage(resource.RUSAGE_SELF)
    fn()
    after = resource.getrusage(resource.RUSAGE_SELF)
    return after.ru_stime - before.ru_stime, after.ru_utime - before.ru_utime, after.ru_minflt - before.ru_minflt


def alternate(fns, repeats):
    """Median seconds of each of ``fns`` (name -> callable), run in turns after one warm-up turn."""
    times = {name: [] for name in fns}
    for turn in range(repeats + 1):
        for name, fn in fns.items():
            t = timed(fn)
            if turn:
                times[name].append(t)
    return {name: statistics.median(ts) for name, ts in times.items()}


class PyTorchNorms:
    """Within the block, the supernet's CellBatchNorms run as PyTorch's BatchNorm2d (the formulation before)."""

    def __init__(self, net):
        self.norms = [m for m in net.modules() if type(m) is CellBatchNorm]

    def __enter__(self):
        for m in self.norms:
            m.__class__ = torch.nn.BatchNorm2d

    def __exit__(self, *exc):
        for m in self.norms:
            m.__class__ = CellBatchNorm


STEP_FORMULATIONS = ('NCHW', 'channels_last, BatchNorm2d', 'channels_last')


def search_step(archs, batch=16):
    """(supernet, step, genotypes): the supernet weight step of (a) (forward, L1 loss, backward, Adam; batch
    ``batch`` of 48x48 LR, C = 8, L = 12, x2, normalised supernet) and its ``archs`` seeded random genotypes."""
    torch.manual_seed(0)
    lq, gt = torch.rand(batch, 3, 48, 48), torch.rand(batch, 3, 96, 96)
    supernet = HNASSuperNet(num_feat=8, num_layers=12, upscale=2)
    optimizer = torch.optim.Adam(supernet.parameters(), 1e-4)
    rng = random.Random(0)
    genotypes = [space.random_genotype(12, rng) for _ in range(archs)]

    def step(genotype):
        loss = F.l1_loss(supernet(lq, genotype), gt)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return supernet, step, genotypes


def step_part(args):
    supernet, step, genotypes = search_step(args.archs)

    def in_formulation(genotype, formulation):
        def run():
            supernet.memory_format = LAYOUTS[formulation.split(',')[0]]
            with PyTorchNorms(supernet) if formulation.endswith('BatchNorm2d') else contextlib.nullcontext():
                step(genotype)
        return run

    print(f'(a) supernet weight step: batch 16, 48x48 LR, C = 8, L = 12, x2, {torch.get_num_threads()} threads, '
          f'median of {args.repeats} (s)')
    print('| genotype | position | ' + ' | '.join(STEP_FORMULATIONS) + ' | speed-up over NCHW |')
    print('|---|---|' + '---|' * len(STEP_FORMULATIONS) + '---|')
    totals = dict.fromkeys(STEP_FORMULATIONS, 0.0)
    for i, genotype in enumerate(genotypes):
        med = alternate({name: in_formulation(genotype, name) for name in STEP_FORMULATIONS}, args.repeats)
        for name in STEP_FORMULATIONS:
            totals[name] += med[name]
        print(f'| {i + 1} | {genotype.position} | ' + ' | '.join(f'{med[name]:.2f}' for name in STEP_FORMULATIONS)
              + f' | {med["NCHW"] / med["channels_last"]:.2f}x |', flush=True)
    print('| all | | ' + ' | '.join(f'{totals[name]:.2f}' for name in STEP_FORMULATIONS)
          + f' | {totals["NCHW"] / totals["channels_last"]:.2f}x |')


def profile_part(args):
    from torch.profiler import profile

    _, step, genotypes = search_step(args.archs)
    for genotype in genotypes:
        step(genotype)
    with profile() as prof:
        for genotype in genotypes:
            step(genotype)
    print(f'\n(e) profile of the step of (a), {len(genotypes)} genotypes, channels_last, '
          f'{torch.get_num_threads()} threads')
    print(prof.key_averages().table(sort_by='self_cpu_time_total', row_limit=15))


def infer_part(args):
    torch.manual_seed(0)
    size = (args.lr_size, args.lr_size)
    x = torch.rand(1, 3, *size)
    nets = {'EDSR-baseline': (EDSR(3, 3, num_feat=64, num_block=16, upscale=2), None)}
    for name, genotype in published_genotypes().items():
        for layout in LAYOUTS:
            nets[f'{name} {layout}'] = (HNASNet(genotype.to_dict(), num_feat=64, init='pytorch'), LAYOUTS[layout])
    wrappers = {}  # suffix -> the network compiled for inference
    if args.compile:
        wrappers['compiled'] = lambda net: torch.compile(net, dynamic=False)
    if args.freeze:
        wrappers['compiled, frozen'] = lambda net: torch.compile(net, dynamic=False, options={'freezing': True})
    if args.jit:
        wrappers['TorchScript'] = lambda net: torch.jit.optimize_for_inference(
            torch.jit.freeze(torch.jit.trace(net, x)))
    macs, fns, compile_seconds = {}, {}, {}
    for label, (net, memory_format) in list(nets.items()):
        net.eval()
        if memory_format is not None:
            net.memory_format = memory_format
        macs[label] = count_macs(net, size)
        fns[label] = (lambda n: lambda: n(x))(net)
        for suffix, wrap in wrappers.items() if memory_format != torch.contiguous_format else ():
            wrapped = f'{label} {suffix}'
            nets[wrapped], macs[wrapped] = nets[label], macs[label]
            with torch.no_grad():
                start = time.perf_counter()
                fast = wrap(net)
                fast(x)  # (inductor compiles on the first call)
                compile_seconds[wrapped] = time.perf_counter() - start
            fns[wrapped] = (lambda n: lambda: n(x))(fast)
    with torch.no_grad():
        med = alternate(fns, args.runs)
        usage = {label: kernel_share(fn) for label, fn in fns.items()}
    per_mac_edsr = med['EDSR-baseline'] / macs['EDSR-baseline']
    print(f'\n(b) inference, one {size[0]}x{size[1]} LR image, x2, 64 features, {torch.get_num_threads()} threads, '
          f'median of {args.runs}; multiply-adds counted by count_macs on that input; system time and minor page '
          'faults of one more call')
    print('| network | G multiply-adds | latency (s) | G multiply-adds / s | time per multiply-add vs EDSR | '
          'system / user time (s) | minor page faults |')
    print('|---|---|---|---|---|---|---|')
    for label in nets:
        system, user, faults = usage[label]
        print(f'| {label} | {macs[label] / 1e9:.1f} | {med[label]:.2f} | {macs[label] / med[label] / 1e9:.1f} | '
              f'{med[label] / macs[label] / per_mac_edsr:.2f}x | {system:.2f} / {user:.2f} | {faults} |')
    for label, seconds in compile_seconds.items():
        print(f'building and first call of {label}: {seconds:.0f} s')


def depthwise_formulations(conv):
    """Name -> (memory format, callable) of three equal formulations of the depthwise conv ``conv``."""
    channels = conv.in_channels
    mask = torch.eye(channels).view(channels, channels, 1, 1)

    def dense(x):  # (C, 1, k, k) * (C, C, 1, 1) -> the block-diagonal (C, C, k, k) weight
        return F.conv2d(x, conv.weight * mask, padding=conv.padding, dilation=conv.dilation)

    return {'depthwise NCHW': (torch.contiguous_format, conv), 'depthwise channels_last': (torch.channels_last, conv),
            'dense block-diagonal channels_last': (torch.channels_last, dense)}


def ops_part(args):
    torch.manual_seed(0)
    kernels = [(3, 1), (5, 1), (3, 2), (5, 2)]  # (kernel, dilation) of sep_conv_3x3/5x5 and dil_conv_3x3/5x5
    print(f'\n(c) the depthwise convs alone, {torch.get_num_threads()} threads, median of {args.repeats} (ms)')
    for batch, channels, size, grad in [(16, 8, 48, True), (16, 8, 96, True), (1, 64, args.lr_size, False)]:
        passes = 'forward and backward' if grad else 'forward, no grad'
        print(f'\nbatch {batch}, C = {channels}, {size}x{size}, {passes}')
        print('| kernel, dilation | depthwise NCHW | depthwise channels_last | dense block-diagonal channels_last |')
        print('|---|---|---|---|')
        x = torch.randn(batch, channels, size, size)
        for k, dilation in kernels:
            conv = torch.nn.Conv2d(channels, channels, k, padding=dilation * (k // 2), dilation=dilation,
                                   groups=channels, bias=False)
            formulations = depthwise_formulations(conv)
            with torch.no_grad():  # the three are one function
                reference = conv(x)
                for memory_format, fn in formulations.values():
                    torch.testing.assert_close(fn(x.contiguous(memory_format=memory_format)), reference)
            fns = {}
            for name, (memory_format, fn) in formulations.items():
                def run(fn=fn, xin=x.contiguous(memory_format=memory_format)):
                    with torch.set_grad_enabled(grad):
                        y = fn(xin.requires_grad_(grad))
                        if grad:
                            y.backward(torch.ones_like(y))
                fns[name] = run
            med = alternate(fns, args.repeats)
            print(f'| {k}x{k}, {dilation} | ' + ' | '.join(f'{med[name] * 1e3:.1f}' for name in fns) + ' |', flush=True)


def norm_part(args):
    torch.manual_seed(0)
    print(f'\n(d) the supernet\'s BatchNorm alone, batch 16, channels_last input, forward and backward, '
          f'{torch.get_num_threads()} threads, median of {args.repeats} (ms; largest output error against float64)')
    print('| channels | size | BatchNorm2d | CellBatchNorm |')
    print('|---|---|---|---|')
    for channels in (4, 8, 16, 32, 64):
        for size in (48, 96):
            x = (torch.randn(16, channels, size, size) * 3 + 1).contiguous(memory_format=torch.channels_last)
            grad = torch.randn_like(x)  # channels_last, as the gradients the cells pass back
            reference = F.batch_norm(x.double(), None, None, training=True)
            norms = {'BatchNorm2d': torch.nn.BatchNorm2d(channels, affine=False, track_running_stats=False),
                     'CellBatchNorm': CellBatchNorm(channels, affine=False, track_running_stats=False)}
            errors, fns = {}, {}
            for name, norm in norms.items():
                errors[name] = (norm(x).double() - reference).abs().max().item()

                def run(norm=norm):
                    norm(x.detach().requires_grad_()).backward(grad)
                fns[name] = run
            med = alternate(fns, args.repeats)
            print(f'| {channels} | {size} | ' + ' | '.join(f'{med[n] * 1e3:.2f} ({errors[n]:.1e})' for n in norms)
                  + ' |', flush=True)


def edges_part(args):
    torch.manual_seed(0)
    print(f'\n(f) one supernet edge alone (op, then its BatchNorm), batch 16, C = 8, forward and backward, '
          f'channels_last, {torch.get_num_threads()} threads, median of {args.repeats} (ms): eager against '
          'torch.compile of the edge (inductor, static shapes; what compiling per edge would give the step, where the '
          'sampled path changes every step)')
    print('| op | input | eager | compiled | speed-up | compilation (s) | largest output difference |')
    print('|---|---|---|---|---|---|---|')
    for name in (op for op in space.NORMAL_OPS if op != 'identity'):
        for size in (48, 96):
            torch._dynamo.reset()  # (a fresh compilation per case, not a fall-back to eager past dynamo's cache limit)
            op, norm = build_op('normal', name, 8, 2), CellBatchNorm(8, affine=False, track_running_stats=False)
            x = torch.rand(16, 8, size, size).contiguous(memory_format=torch.channels_last).requires_grad_()

            def edge(x, op=op, norm=norm):
                return norm(op(x))
            compiled = torch.compile(edge, dynamic=False)
            fns = {label: (lambda fn: lambda: fn(x).sum().backward())(fn)
                   for label, fn in (('eager', edge), ('compiled', compiled))}
            seconds = timed(fns['compiled'])  # (inductor compiles on the first call)
            difference = (compiled(x) - edge(x)).abs().max().item()
            med = alternate(fns, args.repeats)
            print(f'| {name} | {size}x{size} | {med["eager"] * 1e3:.1f} | {med["compiled"] * 1e3:.1f} | '
                  f'{med["eager"] / med["compiled"]:.2f}x | {seconds:.0f} | {difference:.1e} |', flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--part', nargs='+', choices=('step', 'infer', 'ops', 'norm', 'profile', 'edges'),
                        default=['step', 'infer'])
    parser.add_argument('--archs', type=int, default=8)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--lr-size', type=int, default=480)
    parser.add_argument('--runs', type=int, default=3)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--allocator', choices=('reuse', 'glibc'), default='reuse')
    parser.add_argument('--compile', action='store_true', help='(b) also under torch.compile')
    parser.add_argument('--freeze', action='store_true', help='(b) also under torch.compile with inductor\'s '
                        'freezing (weights as constants, prepacked for oneDNN; conv and pointwise fusions)')
    parser.add_argument('--jit', action='store_true', help='(b) also as TorchScript: traced, frozen and '
                        'torch.jit.optimize_for_inference (oneDNN layouts, conv-ReLU fusion)')
    args = parser.parse_args()
    if args.allocator == 'reuse' and not reuse_freed_memory():
        sys.exit('fast_ops.py: error: this C library has no mallopt; run with --allocator glibc')
    print(f'allocator: {args.allocator}')
    torch.set_num_threads(args.threads)
    if 'step' in args.part:
        step_part(args)
    if 'infer' in args.part:
        infer_part(args)
    if 'ops' in args.part:
        ops_part(args)
    if 'norm' in args.part:
        norm_part(args)
    if 'profile' in args.part:
        profile_part(args)
    if 'edges' in args.part:
        edges_part(args)


if __name__ == '__main__':
    main()
