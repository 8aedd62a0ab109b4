"""The webhook cannot be held open: slow headers, slow bodies and floods of connections are cut
off, and a stop is quick whatever is in flight (issue 17.5). Everything on 127.0.0.1, bounded."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from pathlib import Path

from bot.server import SECRET_HEADER, WebhookLimits, WebhookServer, start_webhook_server
from tests.bot_support import BotHarness, running_bot

SECRET = "s3cret_" + "y" * 40
LIMITS = WebhookLimits(
    header_seconds=1.0, body_seconds=1.0, max_connections=20, shutdown_seconds=1.0
)
UPDATE = json.dumps(
    {
        "update_id": 7,
        "message": {
            "message_id": 1,
            "date": 1,
            "chat": {"id": 5, "type": "private"},
            "from": {"id": 5, "is_bot": False, "first_name": "A"},
            "text": "/start",
        },
    }
).encode()


async def _start(bot: BotHarness) -> WebhookServer:
    return await start_webhook_server(bot.app, SECRET, "/hook", "127.0.0.1", 0, LIMITS)


def _request(body: bytes = UPDATE, length: int | None = None) -> bytes:
    size = len(body) if length is None else length
    head = (
        "POST /hook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"{SECRET_HEADER}: {SECRET}\r\nContent-Length: {size}\r\n\r\n"
    )
    return head.encode() + body


async def _closed_within(reader: asyncio.StreamReader, seconds: float) -> bytes:
    """Everything the server sent until it closed the connection; fails if it stays open."""
    try:
        return await asyncio.wait_for(reader.read(), timeout=seconds)
    except ConnectionResetError:  # aborted by the server: closed too
        return b""


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(ConnectionError):
        await writer.wait_closed()


async def _post(port: int) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(_request())
    await writer.drain()
    status = await asyncio.wait_for(reader.readline(), timeout=10)
    await _close(writer)
    return status


async def test_slow_headers_are_cut_off_and_the_update_never_queued(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        server = await _start(bot)
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            started = time.monotonic()
            request = _request()
            for i in range(40):  # one byte every 0.1 s: 4 s for the headers, if allowed
                if reader.at_eof():
                    break
                try:
                    writer.write(request[i : i + 1])
                    await writer.drain()
                except ConnectionError:
                    break
                await asyncio.sleep(0.1)
            await _closed_within(reader, 5)
            assert time.monotonic() - started < LIMITS.header_seconds + 2
            assert server.guard.cut_off >= 1
            await _close(writer)
        finally:
            await server.stop()
        assert bot.app.update_queue.qsize() == 0


async def test_a_slow_body_is_cut_off(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        server = await _start(bot)
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(_request(b"", length=len(UPDATE)))
            await writer.drain()
            started = time.monotonic()
            for i in range(20):  # one byte every 0.2 s
                if reader.at_eof():
                    break
                try:
                    writer.write(UPDATE[i : i + 1])
                    await writer.drain()
                except ConnectionError:
                    break
                await asyncio.sleep(0.2)
            await _closed_within(reader, 5)
            assert time.monotonic() - started < LIMITS.body_seconds + 2
            await _close(writer)
        finally:
            await server.stop()
        assert bot.app.update_queue.qsize() == 0


async def test_a_flood_of_idle_connections_is_bounded_and_cleared_and_telegram_gets_through(
    tmp_path: Path,
) -> None:
    async with running_bot(tmp_path) as bot:
        server = await _start(bot)
        writers: list[asyncio.StreamWriter] = []
        readers: list[asyncio.StreamReader] = []
        try:
            for _ in range(200):  # bounded: 200 connections that never send a byte
                reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
                readers.append(reader)
                writers.append(writer)
            await asyncio.sleep(0.2)
            assert server.guard.open_connections <= LIMITS.max_connections
            assert server.guard.refused >= 200 - LIMITS.max_connections
            started = time.monotonic()
            await asyncio.wait_for(
                asyncio.gather(*(_closed_within(r, 10) for r in readers)),
                timeout=LIMITS.header_seconds + 3,
            )  # every one of them is closed by the server...
            assert time.monotonic() - started < LIMITS.header_seconds + 3
            assert server.guard.open_connections == 0
            assert (await _post(server.port)).startswith(b"HTTP/1.1 200")  # ...and Telegram is in
        finally:
            for writer in writers:
                await _close(writer)
            await server.stop()
        assert bot.app.update_queue.qsize() == 1


async def test_a_stop_is_quick_while_a_slow_body_is_in_flight(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        limits = WebhookLimits(header_seconds=30, body_seconds=30, shutdown_seconds=1.0)
        server = await start_webhook_server(bot.app, SECRET, "/hook", "127.0.0.1", 0, limits)
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(_request(b"{", length=len(UPDATE)))  # a body that never finishes
        await writer.drain()
        await asyncio.sleep(0.3)
        started = time.monotonic()
        await server.stop()
        assert time.monotonic() - started < limits.shutdown_seconds + 2
        await _closed_within(reader, 3)
        await _close(writer)
