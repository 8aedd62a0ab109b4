"""Shared by the proof suites (docs/reliability.md): their scale and how they report counts.

``PROOF_SCALE`` (an environment variable, default 1) multiplies the examples, kills and faults a
proof test runs: ``make test`` runs them at 1 within CI's budget; ``make fuzz``, ``make crash`` and
``make canary`` run them at 10 unless told otherwise.

Each proof test ends by calling :func:`report` with its counts. The line goes to stderr (shown
with a failing test) and into :data:`REPORTED`, which ``tests/conftest.py`` prints in pytest's
closing summary, so the counts show in every run, CI's included:
``PROOF fuzz-updates (scale 1): updates tried 400, ... error handler crashed 0``.
"""

from __future__ import annotations

import os
import sys


def proof_scale() -> int:
    raw = os.environ.get("PROOF_SCALE", "1")
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"PROOF_SCALE must be a whole number, not {raw!r}") from None
    if not 1 <= value <= 10_000:
        raise ValueError("PROOF_SCALE must be between 1 and 10000")
    return value


def scaled(base: int) -> int:
    return base * proof_scale()


REPORTED: list[str] = []
"""Every PROOF line of this pytest run, for the closing summary (tests/conftest.py)."""


def report(suite: str, **counts: int | float | str) -> str:
    """Record and print one ``PROOF <suite> (scale N): name value, ...`` line; return it."""
    parts = ", ".join(f"{name.replace('_', ' ')} {value}" for name, value in counts.items())
    line = f"PROOF {suite} (scale {proof_scale()}): {parts}"
    REPORTED.append(line)
    sys.stderr.write(f"\n{line}\n")
    return line
