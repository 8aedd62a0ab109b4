"""Keeping the running bot's memory off the disk: no core dumps, no ptrace by its own user.

The bot holds, in memory, the answers of every open conversation in plain text and its signing
key. A crash (a bug in Pillow, libsodium, Python itself) would otherwise let the kernel write all
of that into a core file, and ``systemd-coredump`` would keep it. :func:`forbid_core_dumps` runs
first thing in ``reportbot run``, before any secret is read:

- ``RLIMIT_CORE`` soft and hard limits to 0: no core file, and the process cannot raise it again;
- ``prctl(PR_SET_DUMPABLE, 0)``: no core dump whatever the limit or ``core_pattern`` (a pipe to
  ``systemd-coredump`` ignores the limit), and ``/proc/PID/mem``, ``environ`` and ptrace are
  closed to processes of the same user (the files become root's).

The systemd unit adds ``LimitCORE=0`` and ``MemoryDenyWriteExecute=yes``; the compose example
``ulimits: core: 0``; ``docs/deploying.md`` says why. On a platform without ``prctl`` (not Linux)
the limit is still set and :class:`Hardening` says the rest is missing; on Linux a failing
``prctl`` is an error: the bot does not start less protected than it says.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import resource
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

PR_GET_DUMPABLE: Final = 3
PR_SET_DUMPABLE: Final = 4


class HardeningError(RuntimeError):
    """The kernel refused to make the process undumpable."""


@dataclass(frozen=True)
class Hardening:
    """What the kernel reports after :func:`forbid_core_dumps` (read back, not assumed)."""

    core_limit: int
    dumpable: bool | None
    """``None`` where ``prctl`` does not exist (not Linux)."""


def _prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    func = libc.prctl
    func.restype = ctypes.c_int
    func.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    prctl: Callable[..., int] = func
    return prctl


def process_dumpable() -> bool | None:
    """``prctl(PR_GET_DUMPABLE)`` of this process; ``None`` without ``prctl``."""
    prctl = _prctl()
    if prctl is None:
        return None
    return bool(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0))


def forbid_core_dumps() -> Hardening:
    """No core file, not dumpable, not readable through /proc by the same user; read back."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    prctl = _prctl()
    if prctl is not None and prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        raise HardeningError(f"prctl(PR_SET_DUMPABLE, 0) failed: errno {ctypes.get_errno()}")
    soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
    dumpable = process_dumpable()
    if soft != 0 or hard != 0 or dumpable:
        raise HardeningError("core dumps are still allowed")
    return Hardening(core_limit=max(soft, hard), dumpable=dumpable)
