"""The fake Bot API's rate enforcement refuses what Telegram would refuse, and only that.

The burst benchmark (``bench/bench_burst.py``) and the flood tests count its refusals, so a fake
that refused nothing would make "0 refusals" meaningless.
"""

from __future__ import annotations

from tests.fake_bot_api_server import RateLimits


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _send(limits: RateLimits, chat_id: int, method: str = "sendMessage") -> int | None:
    return limits.check(method, {"chat_id": chat_id, "text": "x"})


def test_a_burst_into_one_private_chat_is_refused_after_three() -> None:
    clock = Clock()
    limits = RateLimits(monotonic=clock)
    answers = [_send(limits, 5) for _ in range(5)]
    assert answers[:3] == [None, None, None]
    assert answers[3] == 1
    assert answers[4] == 1
    assert limits.refused == 2
    assert limits.refused_by_chat == {5: 2}
    clock.now += 1.0
    assert _send(limits, 5) is None  # one a second again
    assert _send(limits, 5) == 1


def test_edits_count_but_callback_answers_and_deletions_do_not() -> None:
    clock = Clock()
    limits = RateLimits(monotonic=clock)
    for _ in range(3):
        assert _send(limits, 5, "editMessageText") is None
    assert _send(limits, 5, "editMessageText") is not None
    assert limits.check("answerCallbackQuery", {"callback_query_id": "1"}) is None
    assert limits.check("deleteMessages", {"chat_id": 5, "message_ids": [1]}) is None


def test_more_than_thirty_a_second_overall_is_refused_across_chats() -> None:
    clock = Clock()
    limits = RateLimits(monotonic=clock)
    answers = [_send(limits, 1000 + n) for n in range(40)]
    assert answers.count(None) == 30
    assert limits.refused == 10
    clock.now += 0.5
    assert [_send(limits, 2000 + n) for n in range(16)].count(None) == 15


def test_a_refused_call_does_not_use_up_its_chats_token() -> None:
    clock = Clock()
    limits = RateLimits(monotonic=clock, overall_burst=1.0, overall_per_second=1.0)
    assert _send(limits, 1) is None
    assert _send(limits, 2) is not None  # over the overall limit
    clock.now += 1.0
    for _ in range(3):  # chat 2 still has its whole burst
        assert _send(limits, 2) is None
        clock.now += 1.0


def test_groups_and_channels_get_twenty_a_minute() -> None:
    clock = Clock()
    limits = RateLimits(monotonic=clock)
    sent = 0
    for _ in range(120):  # two minutes, one try a second
        if _send(limits, -1001) is None:
            sent += 1
        clock.now += 1.0
    assert 40 <= sent <= 43  # 20 a minute plus the burst of 3
