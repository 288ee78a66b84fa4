"""Handing freed heap memory back to the operating system.

glibc's malloc raises its mmap threshold (up to 32 MB) each time a large block served by mmap is
freed, so later large buffers come from the heap, and a loop that allocates and frees many of them
(the STFTs of thousands of batches of bars) leaves freed pages there: the job's resident memory
then grows with the number of batches, ~0.3 MB a bar in loopnet_gates (measured with
benchmarks/bench_memory_scale.py, issue 13), although nothing is kept. malloc_trim returns them.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools


@functools.cache
def _libc():
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "malloc_trim") else None


def trim_heap() -> bool:
    """Give the heap's free pages back to the OS (glibc malloc_trim); False, doing nothing, where
    the C library has no malloc_trim."""
    libc = _libc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True
