"""How fast can an HNAS network run on this CPU, op by op? Memory traffic against multiply-adds.

Usage: python bench/roofline.py [--lr-size 480] [--runs 2] [--threads 2] [--no-latency]

For one ``--lr-size`` square LR image (x2, 64 features, no grad, channels_last as shipped), every ATen op of the
forward pass is intercepted on meta tensors (nothing is allocated) and the bytes it must read and write are
summed: its tensor inputs once and its outputs once (views move nothing). That is a lower bound on the memory
traffic of any op-by-op execution, whatever the kernels; divided by the machine's streaming bandwidth (measured
here: ``out = a + b`` on 256 MB tensors, three bytes streams) it bounds the latency from below. Beside it,
basicsr's EDSR-baseline and the measured eager latencies (median of ``--runs`` after one warm-up, in one process)
so the bound can be read against the goal "HNAS within 1.5x of EDSR per multiply-add". Run it on an idle machine.
"""
import argparse
import statistics
import sys
import time

import hnas_basicsr  # noqa: F401  (registers the plugin; before basicsr)
import torch
from basicsr.archs.edsr_arch import EDSR
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from hnas_basicsr.allocator import reuse_freed_memory
from hnas_basicsr.archs.hnas_arch import HNASNet
from hnas_basicsr.nas.cost import count_macs
from hnas_basicsr.nas.genotype import published_genotypes


class TrafficCounter(TorchDispatchMode):
    """Sums the bytes each non-view ATen op reads (its tensor arguments) and writes (its tensor outputs)."""

    def __init__(self):
        super().__init__()
        self.bytes = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if not func.is_view:
            tensors = [t for t in tree_flatten((args, kwargs, out))[0] if isinstance(t, torch.Tensor)]
            self.bytes += sum(t.numel() * t.element_size() for t in tensors)
        return out


def traffic(net, size):
    """Bytes moved by one forward pass of ``net`` on a 1 x 3 x size x size input (counted on meta tensors)."""
    net = net.to('meta')
    x = torch.empty(1, 3, size, size, device='meta')
    with TrafficCounter() as counter, torch.no_grad():
        net(x)
    return counter.bytes


def bandwidth(runs=5):
    """Streaming bandwidth in bytes/s: ``torch.add(a, b, out=c)`` on 256 MB float tensors (3 streams)."""
    a, b, c = (torch.rand(64 * 2**20) for _ in range(3))
    times = []
    for _ in range(runs + 1):
        start = time.perf_counter()
        torch.add(a, b, out=c)
        times.append(time.perf_counter() - start)
    return 3 * a.numel() * a.element_size() / statistics.median(times[1:])


def latency(net, size, runs):
    x = torch.rand(1, 3, size, size)
    times = []
    with torch.no_grad():
        for _ in range(runs + 1):
            start = time.perf_counter()
            net(x)
            times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def networks():
    nets = {'EDSR-baseline': lambda: EDSR(3, 3, num_feat=64, num_block=16, upscale=2)}
    for name, genotype in published_genotypes().items():
        nets[name] = (lambda g: lambda: HNASNet(g.to_dict(), num_feat=64, init='pytorch'))(genotype)
    return nets


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--lr-size', type=int, default=480)
    parser.add_argument('--runs', type=int, default=2)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--no-latency', action='store_true', help='count and bound only')
    args = parser.parse_args()
    if not reuse_freed_memory():
        sys.exit('roofline.py: error: this C library has no mallopt')
    torch.set_num_threads(args.threads)
    size = args.lr_size
    bytes_per_s = bandwidth()
    print(f'one {size}x{size} LR image, x2, 64 features, no grad, {args.threads} threads; streaming bandwidth '
          f'{bytes_per_s / 1e9:.1f} GB/s (out = a + b, 256 MB tensors)')
    print('| network | G multiply-adds | GB moved (lower bound) | multiply-adds per byte | latency bound (s) | '
          'measured (s) | bound per multiply-add vs EDSR measured |')
    print('|---|---|---|---|---|---|---|')
    per_mac_edsr = None
    for name, build in networks().items():
        net = build().eval()
        macs = count_macs(net, (size, size))
        moved = traffic(build().eval(), size)
        bound = moved / bytes_per_s
        measured = float('nan') if args.no_latency else latency(net, size, args.runs)
        if per_mac_edsr is None:
            per_mac_edsr = measured / macs
        print(f'| {name} | {macs / 1e9:.1f} | {moved / 1e9:.1f} | {macs / moved:.1f} | {bound:.2f} | '
              f'{measured:.2f} | {bound / macs / per_mac_edsr:.2f}x |', flush=True)


if __name__ == '__main__':
    main()
