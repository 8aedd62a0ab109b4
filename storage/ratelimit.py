"""Rate-limit counters under keyed pseudonyms, kept in memory only.

A Telegram user id is enumerable, so a plain hash of it is no pseudonym. Counters are keyed by
keyed BLAKE2b of the subject under a random key that exists only in this process's memory and is
replaced at every window: nothing is written to disk, counts from an earlier window cannot be
linked to a later one, and a restart forgets everything. A fixed window is deliberately simple:
the limits here slow floods and code guessing, they do not meter anything.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

_KEY_BYTES = 32
_PSEUDONYM_BYTES = 16


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    subject_count: int  # events of this subject in the window, including this one
    total_count: int  # events of all subjects in the window, including this one


class PseudonymRateLimiter:
    """At most ``per_subject`` events per subject and ``overall`` events in all per window.

    ``subject`` is whatever identifies the sender (a Telegram user id); it is never stored, only a
    keyed hash of it, and only until the window ends.
    """

    def __init__(
        self,
        *,
        per_subject: int,
        overall: int,
        window_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if per_subject < 1 or overall < 1 or window_seconds <= 0:
            raise ValueError("limits are at least 1 and the window is longer than 0 s")
        self._per_subject = per_subject
        self._overall = overall
        self._window = window_seconds
        self._clock = clock
        self._window_start = clock()
        self._key = secrets.token_bytes(_KEY_BYTES)
        self._counts: dict[bytes, int] = {}
        self._total = 0
        self._refused = 0

    def _rotate_if_due(self) -> None:
        now = self._clock()
        if now - self._window_start >= self._window:
            self._window_start = now
            self._key = secrets.token_bytes(_KEY_BYTES)
            self._counts = {}
            self._total = 0
            self._refused = 0

    def _pseudonym(self, subject: int | str) -> bytes:
        return hashlib.blake2b(
            str(subject).encode(), key=self._key, digest_size=_PSEUDONYM_BYTES
        ).digest()

    def hit(self, subject: int | str) -> Verdict:
        """Count one event; ``allowed`` is False once a limit is reached (refused events count
        too, so hammering keeps a subject refused until the window ends)."""
        self._rotate_if_due()
        name = self._pseudonym(subject)
        count = self._counts.get(name, 0) + 1
        self._counts[name] = count
        self._total += 1
        allowed = count <= self._per_subject and self._total <= self._overall
        if not allowed:
            self._refused += 1
        return Verdict(allowed=allowed, subject_count=count, total_count=self._total)

    def refused_total(self) -> int:
        """Events refused in the current window (for a count-only log line)."""
        self._rotate_if_due()
        return self._refused
