"""Per-reporter flood limits: updates per minute (a token bucket), then a pause; reports per day.

The limits fit real reporters: the bucket holds ``burst`` updates and refills at ``per_minute``,
so someone answering as fast as they can tap (one tap every 0.7 s) finishes the whole shipped flow
without meeting it (``tests/test_bot_flood_limits.py``). A flooding account meets it in three
stages, each cheaper for the bot than the one before:

1. **Slowed**: over the bucket, an update is dropped; the first one is answered with one calm
   "slow down" line (:attr:`Verdict.WARN`), every later one in the same stretch is silent
   (:attr:`Verdict.DROP`: a second "slow down" is only noise). Updates still go through at the
   refill rate.
2. **Ignored**: after ``ignore_after`` dropped updates in one stretch the account is ignored for
   ``ignore_seconds``: nothing it sends is handled, whatever the bucket holds.
3. Throughout, a pressed button is still answered (``answerCallbackQuery``, which is not a send
   and costs no sending budget) with a short toast saying when to go on (:attr:`Decision.wait`),
   so no button spins and no tap is lost without a word.

So per ``ignore_seconds`` an account costs at most ``burst`` + the refill of one stretch handled
updates and one "slow down" message; the rest is a dictionary lookup and, for a button, one
answer. State per pseudonym is a few numbers, and the map is bounded, so a flood of updates from
many accounts costs a fixed amount of memory.
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
    DROP = "drop"  # over the limit, already told (or ignored): stay silent, answer a button


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with one update, and (when not OK) the seconds until the account may go on."""

    verdict: Verdict
    wait: float = 0.0


OK: Decision = Decision(Verdict.OK)


@dataclass(frozen=True, slots=True)
class FloodPolicy:
    """How fast one account may go; the defaults fit a brisk reporter (see the module)."""

    per_minute: float = 60.0
    burst: float = 40.0
    ignore_after: int = 40
    """Updates dropped in one stretch (over the bucket) before the account is ignored."""
    ignore_seconds: float = 600.0


@dataclass(slots=True)
class _Budget:
    tokens: float
    last: float
    warned: bool  # the "slow down" of this stretch was said
    dropped: int  # updates dropped in this stretch
    ignored_until: float
    day: date | None
    reports: int


class FloodLimits:
    def __init__(
        self,
        keys: PseudonymKeys,
        policy: FloodPolicy,
        reports_per_day: int,
        capacity: int,
        monotonic: Callable[[], float],
        today: Callable[[], date],
    ) -> None:
        self.policy = policy
        self._rate = policy.per_minute / 60.0
        self._reports_per_day = reports_per_day
        self._monotonic = monotonic
        self._today = today
        self._budgets: PseudonymMap[_Budget] = PseudonymMap(keys, capacity)

    def __len__(self) -> int:
        return len(self._budgets)

    def _budget(self, user_id: int) -> _Budget:
        budget = self._budgets.get(user_id)
        if budget is None:
            budget = _Budget(self.policy.burst, self._monotonic(), False, 0, 0.0, None, 0)
            self._budgets.put(user_id, budget)
        return budget

    def message(self, user_id: int) -> Decision:
        """Count one incoming update; say whether to handle it."""
        budget = self._budget(user_id)
        now = self._monotonic()
        if budget.ignored_until > now:
            return Decision(Verdict.DROP, budget.ignored_until - now)
        policy = self.policy
        budget.tokens = min(policy.burst, budget.tokens + (now - budget.last) * self._rate)
        budget.last = now
        if budget.tokens >= 1.0:
            budget.tokens -= 1.0
            if budget.tokens >= policy.burst / 2:  # calm again: a new stretch begins
                budget.warned, budget.dropped = False, 0
            return OK
        budget.dropped += 1
        if budget.dropped > policy.ignore_after:
            budget.ignored_until = now + policy.ignore_seconds
            budget.tokens = 0.0
            return Decision(Verdict.DROP, policy.ignore_seconds)
        wait = (1.0 - budget.tokens) / self._rate
        if not budget.warned:
            budget.warned = True
            return Decision(Verdict.WARN, wait)
        return Decision(Verdict.DROP, wait)

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
        """Drop budgets that are full again, not ignored, and carry no report count for today."""
        now = self._monotonic()
        today = self._today()
        dropped = 0
        for key, budget in self._budgets.items():
            refilled = budget.tokens + (now - budget.last) * self._rate >= self.policy.burst
            calm = budget.ignored_until <= now
            if refilled and calm and (budget.day != today or budget.reports == 0):
                self._budgets.pop_key(key)
                dropped += 1
        self._budgets.drop_unreachable()
        return dropped
