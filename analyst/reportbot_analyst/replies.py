"""Analysts' replies to a reporter: sealed to the report's reply key, signed by the analyst.

``reportbot analyst reply`` uses this. The reply key comes from the report's manifest (the
toolkit writes it as ``reply_key`` in ``reports.jsonl``); only the reporter who holds the receipt
code can derive the private half. The file layout is in ``docs/format.md`` (section 5); the bot's
side (checking and opening) is ``bot.receipts.replies``.
"""

from __future__ import annotations

import json
import unicodedata
from datetime import date
from pathlib import Path
from typing import Final

from nacl.public import PublicKey, SealedBox

from bot.receipts.derivation import parse_reply_key
from bot.receipts.replies import (
    MAX_REPLY_FILE_BYTES,
    MAX_REPLY_TEXT_CHARS,
    REPLY_KIND,
    reply_header,
)
from bot.sealing.envelope import REPORT_ID_PATTERN, SealingError, encode_plaintext
from reportbot_analyst.keys import AnalystSecretKey

REPORTS_JSONL: Final = "reports.jsonl"


class ReplyInputError(Exception):
    """A reply that cannot be made as asked. ``str(exc)`` is one clear line."""


def clean_reply_text(text: str) -> str:
    """NFC, line breaks unified, no control or bidi-override characters, trimmed."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    kept = "".join(
        ch for ch in text if ch == "\n" or unicodedata.category(ch) not in {"Cc", "Cf", "Cs", "Co"}
    )
    return kept.strip()


def seal_reply(
    analyst: AnalystSecretKey,
    report_id: str,
    reply_key: str,
    text: str,
    *,
    day: date,
) -> bytes:
    """The reply file: header, the text sealed to the reply key, the analyst's signature."""
    if not isinstance(report_id, str) or not REPORT_ID_PATTERN.fullmatch(report_id):
        raise ReplyInputError("REPORT_ID must be the 32 hex digits of a report id")
    try:
        public = parse_reply_key(reply_key)
    except ValueError as exc:
        raise ReplyInputError(str(exc)) from None
    text = clean_reply_text(text)
    if not text:
        raise ReplyInputError("the reply is empty")
    if len(text) > MAX_REPLY_TEXT_CHARS:
        raise ReplyInputError(
            f"the reply has {len(text)} characters; at most {MAX_REPLY_TEXT_CHARS} fit one message"
        )
    try:
        padded = encode_plaintext(
            {"kind": REPLY_KIND, "report": report_id, "day": day.isoformat(), "text": text}
        )
    except SealingError as exc:
        raise ReplyInputError(str(exc)) from None
    sealed = bytes(SealedBox(PublicKey(public)).encrypt(padded))
    signed = reply_header(report_id, public, analyst.key_id, len(sealed)) + sealed
    data = signed + analyst.signing_key.sign(signed).signature
    if len(data) > MAX_REPLY_FILE_BYTES:  # pragma: no cover - 4000 characters pad to 16 KiB
        raise ReplyInputError("the reply is too large")
    return data


def reply_key_from_opened(folder: Path, report_id: str) -> str:
    """The reply key of ``report_id`` from a folder written by ``reportbot analyst open``."""
    path = folder / REPORTS_JSONL if folder.is_dir() else folder
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ReplyInputError(f"{path}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ReplyInputError(f"{path}: not a reports.jsonl file") from None
    for line in lines:
        try:
            doc = json.loads(line)
        except ValueError:
            raise ReplyInputError(f"{path}: not a reports.jsonl file") from None
        if isinstance(doc, dict) and doc.get("report") == report_id:
            key = doc.get("reply_key")
            if not isinstance(key, str) or not key:
                raise ReplyInputError(
                    f"report {report_id} has no reply key: the reporter was not given a receipt "
                    "(the report was interrupted, or sent before receipts existed)"
                )
            return key
    raise ReplyInputError(
        f"report {report_id} is not in {path}: open the digest that carries it first"
    )
