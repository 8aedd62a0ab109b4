"""The bot's form bodies (handlers.forms) are the bytes httpx would send for PTB's form data.

``FormRequest`` quotes each keyboard once, when its template is made, and splices the
conversation's nonce into the quoted text; everything else is quoted per call. If any of that
drifted from ``urlencode`` (a keyboard quoted twice, a nonce that needs escaping, a ``None``
sent, a boolean as ``True``), Telegram would read another keyboard or refuse the call. Beside
these tests, every call of every test through ``running_bot`` is compared the same way
(``tests.botclient.RecordingRequest``, ``FakeTelegram.misencoded``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import quote_plus, urlencode

import httpx
import pytest
from aiohttp import web
from hypothesis import given, settings
from hypothesis import strategies as st
from telegram import InputFile
from telegram.error import NetworkError, TimedOut
from telegram.request import HTTPXRequest, RequestData
from telegram.request._requestparameter import RequestParameter  # how Bot._do_post builds one

from handlers.callbacks import NONCE_LEN
from handlers.forms import FORM_CONTENT_TYPE, FORM_SAFE, FormRequest, JsonText, form_body
from handlers.telegram_calls import Keyboard, KeyboardTemplate

# Text as reporters and flows write it: Korean, Cyrillic, emoji, and the form's own specials.
TEXT = st.text(
    alphabet=st.one_of(
        st.characters(exclude_categories=["Cs"]), st.sampled_from(list(" &=+%#?\"\\'{}[]:,\n"))
    ),
    max_size=40,
)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), TEXT)
JSONISH = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3)
)
NAMES = st.from_regex(r"[a-z][a-z_]{0,15}", fullmatch=True)
NONCES = st.text(alphabet=sorted(FORM_SAFE), min_size=1, max_size=8)
BUTTON = st.tuples(TEXT, TEXT, TEXT)
ROWS = st.lists(st.lists(BUTTON, max_size=4), max_size=5)


def request_data(params: dict[str, object]) -> RequestData:
    return RequestData([RequestParameter.from_input(k, v) for k, v in params.items()])


def httpx_body(data: RequestData) -> bytes:
    """What ``HTTPXRequest`` sends: httpx's own encoding of ``json_parameters``."""
    return httpx.Request("POST", "http://bot-api.test/", data=data.json_parameters).read()


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(NAMES, JSONISH | TEXT.map(JsonText.of), max_size=6))
def test_a_form_body_is_byte_for_byte_what_httpx_sends_for_the_same_parameters(
    params: dict[str, object],
) -> None:
    data = request_data(params)
    assert form_body(data) == httpx_body(data) == urlencode(data.json_parameters).encode()


@settings(max_examples=300, deadline=None)
@given(ROWS, NONCES)
def test_a_template_with_a_nonce_spliced_in_is_the_keyboard_dumped_and_quoted_whole(
    rows: list[list[tuple[str, str, str]]], nonce: str
) -> None:
    buttons = {
        "inline_keyboard": [
            [{"text": label, "callback_data": head + nonce + tail} for label, head, tail in row]
            for row in rows
        ]
    }
    markup = KeyboardTemplate.of(rows).keyboard(nonce)
    assert markup.json == json.dumps(buttons)
    assert markup.json.form == quote_plus(markup.json)
    assert markup.buttons == buttons


@pytest.mark.parametrize("nonce", ['a"b', "a&b", "a b", "a\\b", "ключ", ""])
def test_a_nonce_that_json_or_the_form_would_escape_is_refused_not_spliced(nonce: str) -> None:
    template = KeyboardTemplate.of([[("Да", "c", ":q:yes")]])
    with pytest.raises(ValueError, match="nonce"):
        template.keyboard(nonce)


def test_a_ready_keyboard_carries_its_quoted_json() -> None:
    markup = Keyboard.of({"inline_keyboard": [[{"text": "예 & да", "callback_data": "cAb_:q:y"}]]})
    assert markup.json.form == quote_plus(markup.json)
    assert form_body(request_data({"reply_markup": markup.json})) == (
        b"reply_markup=" + quote_plus(markup.json).encode()
    )


def test_a_nonce_of_the_bots_own_alphabet_needs_no_escaping() -> None:
    from handlers.callbacks import new_nonce

    for _ in range(200):
        nonce = new_nonce()
        assert len(nonce) == NONCE_LEN
        assert FORM_SAFE.issuperset(nonce)


# --- over HTTP -------------------------------------------------------------------------------


class Capture:
    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.seen: list[tuple[str, bytes]] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.seen.append((request.headers.get("Content-Type", ""), await request.read()))
        if self.delay:
            await asyncio.sleep(self.delay)
        return web.json_response({"ok": True, "result": True})


@asynccontextmanager
async def capture_server(capture: Capture) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_route("POST", "/{method}", capture.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        server = site._server  # the only way to learn the port the OS chose
        assert server is not None
        sockets = getattr(server, "sockets", None)
        assert sockets
        yield f"http://127.0.0.1:{sockets[0].getsockname()[1]}"
    finally:
        await runner.cleanup()


MARKUP = KeyboardTemplate.of([[("로동 + 녀성", "c", ":what:unpaid")]]).keyboard("Ab-")
SEND = {
    "chat_id": 7_770_000_001,
    "text": "질문 4 · Вопрос 4 & «Готово» = 100%",
    "link_preview_options": {"is_disabled": True},
    "protect_content": True,
    "reply_markup": MARKUP.json,
    "message_thread_id": None,
}


async def test_form_request_sends_over_http_the_body_and_type_httpxrequest_sends() -> None:
    capture = Capture()
    async with capture_server(capture) as url:
        for request in (FormRequest(), HTTPXRequest()):
            await request.initialize()
            try:
                await request.post(f"{url}/sendMessage", request_data(SEND))
            finally:
                await request.shutdown()
    (form_type, form_sent), (ptb_type, ptb_sent) = capture.seen
    assert form_sent == ptb_sent
    assert form_type == ptb_type == FORM_CONTENT_TYPE
    assert b"message_thread_id" not in form_sent


async def test_form_request_leaves_an_upload_to_httpxrequests_multipart() -> None:
    capture = Capture()
    async with capture_server(capture) as url:
        request = FormRequest()
        await request.initialize()
        try:
            upload = InputFile(b"sealed digest bytes", filename="digest.bin", attach=True)
            await request.post(
                f"{url}/sendDocument", request_data({"chat_id": -100, "document": upload})
            )
        finally:
            await request.shutdown()
    [(kind, body)] = capture.seen
    assert kind.startswith("multipart/form-data")
    assert b"sealed digest bytes" in body


async def test_a_telegram_that_does_not_answer_in_time_is_timed_out_not_waited_for() -> None:
    async with capture_server(Capture(delay=2.0)) as url:
        request = FormRequest(read_timeout=0.2)
        await request.initialize()
        try:
            with pytest.raises(TimedOut):
                await request.post(f"{url}/sendMessage", request_data(SEND))
            with pytest.raises(TimedOut):  # a call's own timeout, too
                await request.post(f"{url}/sendMessage", request_data(SEND), read_timeout=0.1)
        finally:
            await request.shutdown()


async def test_a_telegram_that_cannot_be_reached_is_a_network_error() -> None:
    async with capture_server(Capture()) as url:
        pass  # the port is closed again
    request = FormRequest(connect_timeout=1.0)
    await request.initialize()
    try:
        with pytest.raises(NetworkError) as raised:
            await request.post(f"{url}/sendMessage", request_data(SEND))
    finally:
        await request.shutdown()
    assert not isinstance(raised.value, TimedOut)
    assert "httpx.ConnectError" in str(raised.value)


async def test_a_request_used_before_it_is_initialized_says_so() -> None:
    request = FormRequest()
    await request.initialize()
    await request.shutdown()
    with pytest.raises(RuntimeError, match="not initialized"):
        await request.do_request("http://127.0.0.1:9/x", "POST", request_data(SEND))
