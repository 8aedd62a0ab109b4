"""Guessing limits: wrong receipt codes in sliding windows, per reporter and overall. Memory only.

Each wrong code costs the guesser an argon2id derivation and a pause
(``bot.receipts.followups.FollowupService.try_code``); these windows bound how many they may try.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
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
    ) -> None:
        self._per_reporter = per_reporter
        self._per_hour = per_hour
        self._monotonic = monotonic
        self._reporters = reporters
        self._overall: deque[float] = deque()

    @staticmethod
    def _prune(times: deque[float], window: float, now: float) -> None:
        while times and now - times[0] >= window:
            times.popleft()

    def blocked(self, user_id: int) -> str | None:
        """``"overall"`` or ``"reporter"`` when no code may be tried now, else None."""
        now = self._monotonic()
        self._prune(self._overall, OVERALL_WINDOW, now)
        if len(self._overall) >= self._per_hour:
            return "overall"
        mine = self._reporters.get(user_id)
        if mine is not None:
            self._prune(mine, REPORTER_WINDOW, now)
            if len(mine) >= self._per_reporter:
                return "reporter"
        return None

    def wrong(self, user_id: int) -> tuple[int, int]:
        """Count a wrong code; returns (this reporter's in 24 h, everyone's in the last hour)."""
        now = self._monotonic()
        mine = self._reporters.get(user_id)
        if mine is None:
            mine = deque(maxlen=self._per_reporter)
            self._reporters.put(user_id, mine)
        mine.append(now)
        self._overall.append(now)
        while len(self._overall) > self._per_hour:
            self._overall.popleft()
        return len(mine), len(self._overall)

    def forget_idle(self) -> None:
        now = self._monotonic()
        for key, times in self._reporters.items():
            self._prune(times, REPORTER_WINDOW, now)
            if not times:
                self._reporters.pop_key(key)
        self._reporters.drop_unreachable()

    def __len__(self) -> int:
        return len(self._reporters)
