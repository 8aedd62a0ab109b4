"""A fake Bot API over real HTTP on 127.0.0.1, for running ``reportbot run`` as a subprocess.

It serves ``/bot<token>/<method>`` and ``/file/bot<token>/<path>`` with the same
:class:`tests.botclient.FakeTelegram` the in-process tests use, and answers ``getUpdates`` long
polls from a queue the test fills (``push``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

from aiohttp import web

from tests.botclient import JSON, Call, FakeTelegram


def _value(raw: str) -> Any:
    """Form values arrive as strings; objects and lists are JSON (as PTB sends them)."""
    if raw[:1] in ("{", "["):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


class FakeBotApiServer:
    def __init__(self, telegram: FakeTelegram) -> None:
        self.telegram = telegram
        self.updates: list[JSON] = []
        self._new_update = asyncio.Event()
        self._calls_changed = asyncio.Event()
        self.polls = 0
        self._runner: web.AppRunner | None = None
        self.url = ""

    # --- the test's side --------------------------------------------------------------------
    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        app.router.add_route("GET", "/file/bot{token}/{path:.*}", self._file)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server  # the only way to learn the port the OS chose
        assert server is not None
        sockets = getattr(server, "sockets", None)
        assert sockets
        port = sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def push(self, update: JSON) -> None:
        self.updates.append(update)
        self._new_update.set()

    async def deliver(self, update: JSON) -> None:
        """Queue an update and wait until the bot has fetched it."""
        self.push(update)
        update_id = int(update["update_id"])
        deadline = time.monotonic() + 15
        while any(int(u["update_id"]) <= update_id for u in self.updates):
            if time.monotonic() > deadline:
                raise AssertionError("the bot did not fetch the update")
            await asyncio.sleep(0.02)

    async def wait_for(self, method: str, count: int = 1, within: float = 15.0) -> list[Call]:
        deadline = time.monotonic() + within
        while len(self.telegram.calls_of(method)) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                made = [c.method for c in self.telegram.calls]
                raise AssertionError(f"no {count} x {method} within {within}s; calls: {made}")
            self._calls_changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._calls_changed.wait(), timeout=min(remaining, 0.2))
        return self.telegram.calls_of(method)

    # --- the bot's side -------------------------------------------------------------------
    async def _params(self, request: web.Request) -> JSON:
        params: JSON = {k: _value(v) for k, v in request.query.items()}
        if request.can_read_body:
            if request.content_type == "application/json":
                body = await request.json()
                if isinstance(body, dict):
                    params.update(body)
            else:
                form = await request.post()
                for key, value in form.items():
                    if isinstance(value, str):
                        params[key] = _value(value)
        return params

    async def _api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.telegram.token:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        method = request.match_info["method"]
        params = await self._params(request)
        if method == "getUpdates":
            return web.json_response({"ok": True, "result": await self._get_updates(params)})
        status, body = self.telegram.handle(method, params)
        self._calls_changed.set()
        return web.json_response(body, status=status)

    async def _get_updates(self, params: JSON) -> list[JSON]:
        self.polls += 1
        offset = int(params.get("offset") or 0)
        timeout = float(params.get("timeout") or 0)
        self.updates = [u for u in self.updates if int(u["update_id"]) >= offset]
        if not self.updates and timeout > 0:
            self._new_update.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_update.wait(), timeout=min(timeout, 1.0))
        return [u for u in self.updates if int(u["update_id"]) >= offset]

    async def _file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.telegram.token:
            return web.Response(status=401)
        status, content = self.telegram.download(request.match_info["path"])
        return web.Response(body=content, status=status)
