"""Per-reporter flood limits: messages per minute (a token bucket) and reports per day.

State per pseudonym is a few numbers, and the map is bounded, so a flood of updates costs a fixed
amount of memory. When a limit is reached the reporter gets one calm message per minute, never a
reply per flooded update.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from enum import Enum

from handlers.pseudonyms import PseudonymKeys, PseudonymMap


class Verdict(Enum):
    OK = "ok"
    WARN = "warn"  # over the limit: tell the reporter once
    DROP = "drop"  # over the limit, already told: stay silent


@dataclass(slots=True)
class _Budget:
    tokens: float
    last: float
    warned_at: float | None
    day: date | None
    reports: int


class FloodLimits:
    def __init__(
        self,
        keys: PseudonymKeys,
        messages_per_minute: int,
        reports_per_day: int,
        capacity: int,
        monotonic: Callable[[], float],
        today: Callable[[], date],
    ) -> None:
        self._per_minute = float(messages_per_minute)
        self._rate = messages_per_minute / 60.0
        self._reports_per_day = reports_per_day
        self._monotonic = monotonic
        self._today = today
        self._budgets: PseudonymMap[_Budget] = PseudonymMap(keys, capacity)

    def __len__(self) -> int:
        return len(self._budgets)

    def _budget(self, user_id: int) -> _Budget:
        budget = self._budgets.get(user_id)
        if budget is None:
            budget = _Budget(self._per_minute, self._monotonic(), None, None, 0)
            self._budgets.put(user_id, budget)
        return budget

    def message(self, user_id: int) -> Verdict:
        """Count one incoming update; say whether to handle it."""
        budget = self._budget(user_id)
        now = self._monotonic()
        budget.tokens = min(self._per_minute, budget.tokens + (now - budget.last) * self._rate)
        budget.last = now
        if budget.tokens >= 1.0:
            budget.tokens -= 1.0
            return Verdict.OK
        if budget.warned_at is None or now - budget.warned_at >= 60.0:
            budget.warned_at = now
            return Verdict.WARN
        return Verdict.DROP

    def may_start_report(self, user_id: int) -> bool:
        budget = self._budget(user_id)
        today = self._today()
        if budget.day != today:
            budget.day, budget.reports = today, 0
        return budget.reports < self._reports_per_day

    def count_report(self, user_id: int) -> None:
        budget = self._budget(user_id)
        today = self._today()
        if budget.day != today:
            budget.day, budget.reports = today, 0
        budget.reports += 1

    def forget_idle(self) -> int:
        """Drop budgets that are full again and carry no report count for today."""
        now = self._monotonic()
        today = self._today()
        dropped = 0
        for key, budget in self._budgets.items():
            refilled = budget.tokens + (now - budget.last) * self._rate >= self._per_minute
            if refilled and (budget.day != today or budget.reports == 0):
                self._budgets.pop_key(key)
                dropped += 1
        self._budgets.drop_unreachable()
        return dropped
