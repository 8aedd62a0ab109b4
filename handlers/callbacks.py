"""Button payloads (``callback_data``): short, fixed, and tied to one conversation.

Layout (ASCII, at most 64 bytes as Telegram demands)::

    <op><nonce>[:<qid>[:<cid>]]

- ``op``: one character naming the action (:class:`Op`);
- ``nonce``: :data:`NONCE_LEN` characters drawn at random when a conversation starts, so a button
  left over from an earlier conversation is recognised as stale instead of acting on this one;
- ``qid`` / ``cid``: the question and choice ids from the flow (``[a-z][a-z0-9_]*``).

Beside the ids this takes ``1 + NONCE_LEN + 2`` bytes, within
``bot.questionnaire.flow.CALLBACK_RESERVED``, so any flow the loader accepts produces valid
buttons. Nothing in a payload identifies the reporter.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from enum import StrEnum

from bot.questionnaire.flow import CALLBACK_DATA_MAX, CALLBACK_RESERVED

NONCE_LEN = 3
_NONCE_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_ID = r"[a-z][a-z0-9_]*"
_PAYLOAD_RE = re.compile(
    rf"^(?P<op>[a-z])(?P<nonce>[A-Za-z0-9_-]{{{NONCE_LEN}}})(?::(?P<qid>{_ID})(?::(?P<cid>{_ID}))?)?$"
)

OVERHEAD = 1 + NONCE_LEN + 2
"""Bytes a payload takes beside the question and choice ids."""

assert OVERHEAD <= CALLBACK_RESERVED  # noqa: S101 - a build-time invariant of this module


class CallbackError(ValueError):
    """A payload that this bot did not make (or no longer understands)."""


class Op(StrEnum):
    LANGUAGE = "l"  # qid slot carries the language code
    CHOOSE = "c"  # qid, cid
    DONE = "d"  # qid (multi / media finished)
    SKIP = "s"  # qid
    BACK = "b"  # qid of the prompt the button was on
    HELP = "h"  # qid
    EXIT = "x"  # quick exit: honoured from any message, stale or not
    EDIT = "e"  # qid to re-ask from the review screen
    SUBMIT = "u"
    SEND_ANSWERED = "k"  # after /cancel: send what was answered
    DISCARD = "q"  # after /cancel: discard everything
    RESUME = "r"  # after /cancel: go on answering
    RECEIPT_KEPT = "p"  # receipts (issue 7): the reporter kept the code
    FOLLOWUP = "f"  # receipts: "I reported before"; qid slot carries the language
    FOLLOWUP_SEND = "g"  # receipts: send what was added to an earlier report
    RECEIPT_LOST = "o"  # receipts: "I lost the code"
    SEND_NOW = "n"  # "send what I have" on any prompt after consent


_WITH_QID = {Op.LANGUAGE, Op.CHOOSE, Op.DONE, Op.SKIP, Op.BACK, Op.HELP, Op.EDIT, Op.FOLLOWUP}


@dataclass(frozen=True, slots=True)
class Callback:
    op: Op
    nonce: str
    qid: str = ""
    cid: str = ""

    def encode(self) -> str:
        data = f"{self.op.value}{self.nonce}"
        if self.qid:
            data += f":{self.qid}"
            if self.cid:
                data += f":{self.cid}"
        elif self.cid:
            raise CallbackError("a choice needs its question")
        if len(data.encode()) > CALLBACK_DATA_MAX:
            raise CallbackError("callback_data longer than Telegram allows")
        return data


def new_nonce() -> str:
    return "".join(secrets.choice(_NONCE_ALPHABET) for _ in range(NONCE_LEN))


def encode(op: Op, nonce: str, qid: str = "", cid: str = "") -> str:
    if len(nonce) != NONCE_LEN:
        raise CallbackError("bad nonce")
    return Callback(op, nonce, qid, cid).encode()


def decode(data: str | None) -> Callback:
    """Parse a payload; CallbackError for anything this bot would not have made."""
    if not data or len(data.encode()) > CALLBACK_DATA_MAX:
        raise CallbackError("empty or oversized payload")
    match = _PAYLOAD_RE.fullmatch(data)
    if match is None:
        raise CallbackError("malformed payload")
    try:
        op = Op(match["op"])
    except ValueError:
        raise CallbackError("unknown action") from None
    qid = match["qid"] or ""
    cid = match["cid"] or ""
    if op is Op.CHOOSE and not cid:
        raise CallbackError("a choice needs its id")
    if op is not Op.CHOOSE and cid:
        raise CallbackError("only a choice carries a choice id")
    if op in _WITH_QID and not qid:
        raise CallbackError("this action needs a question")
    if op not in _WITH_QID and qid:
        raise CallbackError("this action takes no question")
    return Callback(op, match["nonce"], qid, cid)
