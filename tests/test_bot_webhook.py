"""Webhook mode: only Telegram, which knows the secret, may hand the bot updates."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.server import SECRET_HEADER, make_webhook_app
from tests.bot_support import running_bot

SECRET = "s3cret_" + "x" * 40
UPDATE = {
    "update_id": 1,
    "message": {
        "message_id": 1,
        "date": 1,
        "chat": {"id": 5, "type": "private"},
        "from": {"id": 5, "is_bot": False, "first_name": "A"},
        "text": "/start",
    },
}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {SECRET_HEADER: ""},
        {SECRET_HEADER: SECRET[:-1]},
        {SECRET_HEADER: SECRET + "x"},
        {SECRET_HEADER: SECRET.upper()},
    ],
    ids=["missing", "empty", "one-short", "one-long", "wrong-case"],
)
async def test_webhook_without_the_right_secret_gets_403_and_queues_nothing(
    tmp_path: Path, headers: dict[str, str]
) -> None:
    async with running_bot(tmp_path) as bot:
        web_app = make_webhook_app(bot.app, SECRET, "/hook")
        async with TestClient(TestServer(web_app)) as client:
            response = await client.post("/hook", json=UPDATE, headers=headers)
            assert response.status == 403
        assert bot.app.update_queue.qsize() == 0


async def test_webhook_with_the_secret_queues_the_update(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        web_app = make_webhook_app(bot.app, SECRET, "/hook")
        async with TestClient(TestServer(web_app)) as client:
            response = await client.post("/hook", json=UPDATE, headers={SECRET_HEADER: SECRET})
            assert response.status == 200
            bad = await client.post("/hook", data=b"{not json", headers={SECRET_HEADER: SECRET})
            assert bad.status == 400
            elsewhere = await client.post("/other", json=UPDATE, headers={SECRET_HEADER: SECRET})
            assert elsewhere.status == 404
        assert bot.app.update_queue.qsize() == 1
