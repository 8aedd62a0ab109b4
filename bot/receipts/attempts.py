"""Guessing limits: receipt codes tried, in sliding windows, per reporter and overall. Memory only.

- **Per reporter** (pseudonym): at most ``per_reporter`` wrong codes in 24 hours; then that
  account's codes are not even tried.
- **Overall**: never a lock-out (21 throwaway accounts could otherwise shut every real reporter
  out). Beyond ``per_hour`` wrong codes in the last hour, every code waits, *before* its
  argon2id lookup, a delay that doubles every tenth of ``per_hour`` more, up to ``max_delay``:
  guessing slows down for everyone, and a reporter with the right code still gets through after
  at most ``max_delay``.
- A code is **counted when it is tried, before the lookup** (:meth:`CodeAttempts.begin`), and
  refunded if it was right (:meth:`CodeAttempts.right`), so concurrent guesses cannot overshoot.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final, Protocol

REPORTER_WINDOW: Final = 24 * 3600.0
OVERALL_WINDOW: Final = 3600.0


class ReporterWindows(Protocol):
    """A bounded map from a reporter to their window, keyed so that no id is kept.

    ``handlers.pseudonyms.PseudonymMap`` is one: it keeps a keyed hash of the id, never the id.
    """

    def get(self, user_id: int) -> deque[float] | None: ...

    def put(self, user_id: int, value: deque[float]) -> list[deque[float]]: ...

    def items(self) -> Iterator[tuple[bytes, deque[float]]]: ...

    def pop_key(self, pseudonym: bytes) -> deque[float] | None: ...

    def drop_unreachable(self) -> list[deque[float]]: ...

    def __len__(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Attempt:
    """One code being tried: counted already; wait ``delay`` before the lookup."""

    times: deque[float]
    at: float
    delay: float


class CodeAttempts:
    """Wrong receipt codes in sliding windows, per reporter (pseudonym) and overall. Memory only.

    Before a code is tried, :meth:`blocked` says whether either limit is reached; only a wrong
    code counts (:meth:`wrong`). A reporter's window is 24 hours, the overall one an hour; both
    hold at most their limit's number of timestamps, so memory stays bounded.
    """

    def __init__(
        self,
        reporters: ReporterWindows,
        *,
        per_reporter: int,
        per_hour: int,
        monotonic: Callable[[], float],
        base_delay: float = 2.0,
        max_delay: float = 30.0,
    ) -> None:
        self._per_reporter = per_reporter
        self._per_hour = per_hour
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._step = max(1, per_hour // 10)
        self._overall_cap = per_hour + 20 * self._step  # beyond it the delay is at its maximum
        self._monotonic = monotonic
        self._reporters = reporters
        self._overall: deque[float] = deque()

    @staticmethod
    def _prune(times: deque[float], window: float, now: float) -> None:
        while times and now - times[0] >= window:
            times.popleft()

    def delay_for(self, tried_in_hour: int) -> float:
        """The wait before a lookup when ``tried_in_hour`` codes were tried in the last hour."""
        over = tried_in_hour - self._per_hour
        if over <= 0:
            return 0.0
        return float(min(self._max_delay, self._base_delay * 2 ** ((over - 1) // self._step)))

    def begin(self, user_id: int) -> Attempt | None:
        """Count a code about to be tried; None when this reporter's limit is reached."""
        if self.blocked(user_id) is not None:
            return None
        now = self._monotonic()
        mine = self._reporters.get(user_id)
        if mine is None:
            mine = deque(maxlen=self._per_reporter)
            self._reporters.put(user_id, mine)
        mine.append(now)
        self._overall.append(now)
        while len(self._overall) > self._overall_cap:
            self._overall.popleft()
        return Attempt(mine, now, self.delay_for(len(self._overall)))

    def right(self, attempt: Attempt) -> None:
        """The code was right: it does not count against anyone."""
        for times in (attempt.times, self._overall):
            with contextlib.suppress(ValueError):  # already pruned
                times.remove(attempt.at)

    def counts(self, attempt: Attempt) -> tuple[int, int]:
        """(this reporter's codes in 24 h, everyone's in the last hour), for the log."""
        return len(attempt.times), len(self._overall)

    def blocked(self, user_id: int) -> str | None:
        """``"reporter"`` when this reporter may try no code now, else None (never overall)."""
        now = self._monotonic()
        self._prune(self._overall, OVERALL_WINDOW, now)
        mine = self._reporters.get(user_id)
        if mine is not None:
            self._prune(mine, REPORTER_WINDOW, now)
            if len(mine) >= self._per_reporter:
                return "reporter"
        return None

    def forget_idle(self) -> None:
        now = self._monotonic()
        for key, times in self._reporters.items():
            self._prune(times, REPORTER_WINDOW, now)
            if not times:
                self._reporters.pop_key(key)
        self._reporters.drop_unreachable()

    def __len__(self) -> int:
        return len(self._reporters)
