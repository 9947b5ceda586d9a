"""Child processes that die with their parent.

A step started by the local executor, and the ffmpeg a step starts, must not outlive the
process that started them: a killed control service or step would otherwise leave encoders
running beside the next attempt, writing into the same work directory. On Linux the child asks
the kernel for a signal when its parent dies (``prctl(PR_SET_PDEATHSIG)``); elsewhere this is a
no-op and process-group supervision is all there is.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
from collections.abc import Callable

__all__ = ["die_with_parent"]

_PR_SET_PDEATHSIG = 1


def _prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None
    function: Callable[..., int] = libc.prctl
    return function


def die_with_parent(sig: signal.Signals = signal.SIGKILL) -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child receive ``sig`` when this process dies.

    The C function is looked up here, before the fork: the child only calls it. A parent that
    died between the fork and the call is noticed by the parent id changing, and the child
    exits at once.

    Returns:
        The function, or ``None`` where the platform has no parent-death signal.
    """
    prctl = _prctl()
    if prctl is None:
        return None
    parent = os.getpid()
    number = int(sig)

    def arm() -> None:
        prctl(_PR_SET_PDEATHSIG, number, 0, 0, 0)
        if os.getppid() != parent:
            os._exit(128 + number)

    return arm
