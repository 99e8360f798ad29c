"""Keep freed memory for reuse instead of returning it to the system (glibc's malloc, Linux).

By default glibc serves every allocation above its mmap threshold (at most 32 MB) with a fresh ``mmap`` and
unmaps it on free, so each large activation tensor is zero-filled page by page by the kernel again. An HNAS
network at 64 features on a 480x480 LR image allocates hundreds of such tensors per forward pass: measured,
more than half of its time was system time (``bench/fast_ops.py --allocator``). Raising the mmap and trim
thresholds makes malloc reuse the freed heap. The entry points (``train.py``, ``test.py``, the tools) call
:func:`reuse_freed_memory` once; elsewhere (other C libraries) it does nothing.
"""
import ctypes
import ctypes.util

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
# Allocations above _MMAP_THRESHOLD bytes still get their own mapping: measured (bench/memory.py, HNAS-A at 64
# features on a 600x512 LR image), at 1 GiB the heap's fragmentation raised the peak RSS from 6249 to 8732 MB, at
# 256 MB to 6475 MB, at 64 MB not at all (6250 MB). Free memory at the top of the heap is kept up to _TRIM_THRESHOLD.
_MMAP_THRESHOLD, _TRIM_THRESHOLD = 64 << 20, 1 << 30


def reuse_freed_memory() -> bool:
    """Set glibc's mmap threshold to 64 MB and its trim threshold to 1 GiB. Returns whether the C library accepted."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6')
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD))
