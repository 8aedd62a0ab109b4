"""Bot API requests as form bodies, with each keyboard's share of the body encoded once.

A call goes to Telegram as ``application/x-www-form-urlencoded`` fields, as python-telegram-bot
sends it: every parameter as text (JSON for anything but a string), then percent-quoted byte
by byte (``urllib.parse.quote_plus``, in Python). An inline keyboard is most of a body: 1-3 KB
of JSON in which nearly every byte needs quoting, on every send and edit (a tenth of the bot's
CPU per step before this module, docs/benchmarks.md). Yet the keyboard is known before the call:

- :class:`JsonText` is a keyboard's JSON text that carries its quoted form as well, made when
  the keyboard is made (``handlers.telegram_calls.KeyboardTemplate``: once per screen and
  language, the conversation's nonce spliced into both). To everything else it is the text.
- :func:`form_body` encodes a call's parameters exactly as ``urllib.parse.urlencode`` of PTB's
  ``RequestData.json_parameters`` would, which is what httpx sends, but takes a
  :class:`JsonText`'s form as it is (tests/test_forms.py: byte for byte the same body).
- :class:`FormRequest` is PTB's ``HTTPXRequest`` sending that body; a call with files
  (a digest's upload) goes through ``HTTPXRequest`` unchanged, as multipart.
"""

from __future__ import annotations

import json
from typing import Final
from urllib.parse import quote_plus

import httpx
from telegram._utils.defaultvalue import DefaultValue  # HTTPXRequest's own placeholder test
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, HTTPXRequest, RequestData

FORM_SAFE: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~")
"""What ``quote_plus`` leaves as it is; none of it is escaped in JSON either, so text made of
these (a conversation's nonce) can be spliced into JSON and into its quoted form alike."""

FORM_CONTENT_TYPE: Final = "application/x-www-form-urlencoded"


class JsonText(str):
    """JSON text (a keyboard's ``reply_markup``) that carries ``form``, itself as a quoted form
    field: :func:`form_body` uses that instead of quoting the text again.

    Made only where ``form`` is ``quote_plus`` of the text by construction
    (``handlers.telegram_calls``: :func:`JsonText.of`, or spliced from parts made so)."""

    form: str

    def __new__(cls, text: str, form: str) -> JsonText:
        made = super().__new__(cls, text)
        made.form = form
        return made

    @classmethod
    def of(cls, text: str) -> JsonText:
        return cls(text, quote_plus(text))


def form_field(value: object) -> str:
    """One parameter as its quoted form field: ``RequestParameter.json_value`` (a string as it
    is, anything else as JSON), then ``quote_plus``."""
    if isinstance(value, JsonText):
        return value.form
    if isinstance(value, str):
        return quote_plus(value)
    if value is True:
        return "true"
    if value is False:
        return "false"
    if type(value) is int:
        return str(value)
    return quote_plus(json.dumps(value))


def form_body(request_data: RequestData) -> bytes:
    """The call's body, byte for byte ``urlencode(request_data.json_parameters)`` (httpx's
    encoding of PTB's form data); parameters whose value is ``None`` are left out, as there."""
    return "&".join(
        f"{quote_plus(name)}={form_field(value)}"
        for name, value in request_data.parameters.items()
        if value is not None
    ).encode("ascii")


class FormRequest(HTTPXRequest):
    """``HTTPXRequest`` whose form bodies are :func:`form_body`: the same bytes on the wire,
    without quoting each keyboard again. Calls with files, and calls without parameters, are
    ``HTTPXRequest``'s own. Timeouts and errors are as there: ``TimedOut`` (the pool's, too),
    ``NetworkError`` for any other httpx error."""

    __slots__ = ()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if request_data is None or request_data.contains_files:
            return await super().do_request(
                url,
                method,
                request_data,
                read_timeout,
                write_timeout,
                connect_timeout,
                pool_timeout,
            )
        client = self._client
        if client.is_closed:
            raise RuntimeError("this FormRequest is not initialized")
        default = client.timeout
        timeout = httpx.Timeout(
            connect=_chosen(connect_timeout, default.connect),
            read=_chosen(read_timeout, default.read),
            write=_chosen(write_timeout, default.write),
            pool=_chosen(pool_timeout, default.pool),
        )
        headers = {"User-Agent": self.USER_AGENT, "Content-Type": FORM_CONTENT_TYPE}
        try:
            response = await client.request(
                method, url, headers=headers, timeout=timeout, content=form_body(request_data)
            )
        except httpx.PoolTimeout as exc:
            raise TimedOut("Pool timeout: the request was not sent") from exc
        except httpx.TimeoutException as exc:
            raise TimedOut from exc
        except httpx.HTTPError as exc:
            raise NetworkError(f"httpx.{type(exc).__name__}: {exc}") from exc
        return response.status_code, response.content


def _chosen(given: ODVInput[float], default: float | None) -> float | None:
    """A call's timeout, or the request's own where the call left PTB's placeholder."""
    return default if isinstance(given, DefaultValue) else given
