"""The fake Bot API's record of what is on each chat's screen, checked against Telegram's rules.

The erase tests read ``visible(chat_id)`` and ``deleted(chat_id)``; if the fake deleted too much
(an id from another chat, a message older than 48 hours) those tests would pass for nothing.
"""

from __future__ import annotations

from tests.botclient import FakeTelegram


def _send(telegram: FakeTelegram, chat_id: int, text: str) -> int:
    status, body = telegram.handle("sendMessage", {"chat_id": chat_id, "text": text})
    assert status == 200, body
    return int(body["result"]["message_id"])


def test_private_chats_never_share_a_message_id_but_groups_count_their_own() -> None:
    telegram = FakeTelegram("1:x")
    telegram.chat(-100, "group")
    a = [_send(telegram, 11, "a") for _ in range(3)]
    b = [_send(telegram, 22, "b") for _ in range(3)]
    assert not set(a) & set(b)
    assert [_send(telegram, -100, "g") for _ in range(2)] == [1, 2]


def test_delete_messages_skips_ids_of_another_chat_and_records_what_it_deleted() -> None:
    telegram = FakeTelegram("1:x")
    mine = _send(telegram, 11, "mine")
    other = _send(telegram, 22, "other")
    status, _ = telegram.handle("deleteMessages", {"chat_id": 11, "message_ids": [mine, other]})
    assert status == 200
    assert telegram.visible(11) == []
    assert [m.text for m in telegram.visible(22)] == ["other"]
    assert [(d.chat_id, d.message_id, d.text) for d in telegram.deleted()] == [(11, mine, "mine")]


def test_messages_older_than_48_hours_stay_and_delete_message_says_so() -> None:
    telegram = FakeTelegram("1:x")
    old = _send(telegram, 11, "old")
    telegram.age(11, 48 * 3600 + 1)
    new = _send(telegram, 11, "new")
    telegram.handle("deleteMessages", {"chat_id": 11, "message_ids": [old, new]})
    assert [m.text for m in telegram.visible(11)] == ["old"]
    status, body = telegram.handle("deleteMessage", {"chat_id": 11, "message_id": old})
    assert status == 400
    assert "can't be deleted" in body["description"]
    status, body = telegram.handle("deleteMessage", {"chat_id": 11, "message_id": new})
    assert status == 400
    assert "not found" in body["description"]
