"""Analysts' replies: the signed, sealed file an analyst posts in the channel; checking it, and
the server's one decrypt: opening a reply for the reporter who typed the right code.

Analysts seal their replies to the report's reply key (``bot.receipts.derivation``) and sign them
with their own Ed25519 key (:func:`parse_reply`, format in ``docs/format.md``). The bot checks the
signature against the analysts' keys it was configured with, stores the reply as it came (still
sealed), and can open it (:func:`open_reply`) only while a reporter who typed the right code is in
a follow-up conversation: the private half exists in memory for that conversation only.

This is the only module of the server that names a private key type: the reporter's reply key,
derived from the code. It is not an analyst key: the bot still holds no key that opens a report.
``tests/test_no_decrypt_path.py`` lists it in its allow-list with that reason.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Final

import nacl.exceptions
from nacl.public import PrivateKey, SealedBox

from bot.receipts.derivation import Derived
from bot.sealing.envelope import REPORT_ID_PATTERN, FormatError, decode_plaintext
from bot.sealing.keys import KEY_ID_BYTES, AnalystPublicKey, key_id
from storage.base import ReportId

REPLY_MAGIC: Final = b"RBRP"
REPLY_VERSION: Final = 1
REPLY_HEADER_BYTES: Final = 4 + 1 + 16 + KEY_ID_BYTES + KEY_ID_BYTES + 4
REPLY_SIGNATURE_BYTES: Final = 64
REPLY_KIND: Final = "reply"
MAX_REPLY_TEXT_CHARS: Final = 4000
"""A reply is shown as one Telegram message (at most 4096 characters)."""
MAX_REPLY_FILE_BYTES: Final = 64 * 1024
"""Largest reply file: a 4000-character reply pads to 16 KiB; anything much larger is not one."""
SEAL_OVERHEAD: Final = 48


class ReplyError(Exception):
    """A reply file that cannot be used. ``str(exc)`` is one clear line without its content."""


class ReplyFormatError(ReplyError):
    """Not a reply file, or a damaged one."""


class UnknownSignerError(ReplyError):
    """Signed by a key that is not among the analysts' keys."""


class BadReplySignatureError(ReplyError):
    """The signature does not verify: forged or altered."""


@dataclass(frozen=True, slots=True)
class SignedReply:
    report_id: ReportId
    reply_key_id: bytes
    signer_key_id: bytes
    sealed: bytes
    signed: bytes
    signature: bytes


def reply_header(
    report_id: str, reply_public: bytes, signer_key_id: bytes, sealed_len: int
) -> bytes:
    if not REPORT_ID_PATTERN.fullmatch(report_id):
        raise ValueError("report id must be 32 lowercase hex digits")
    return (
        REPLY_MAGIC
        + bytes([REPLY_VERSION])
        + bytes.fromhex(report_id)
        + key_id(reply_public)
        + signer_key_id
        + struct.pack(">I", sealed_len)
    )


def parse_reply(data: bytes) -> SignedReply:
    """Check a reply file's structure (not its signature) and split it."""
    data = bytes(data)
    if data[:4] != REPLY_MAGIC:
        raise ReplyFormatError("not a reportbot reply (bad magic)")
    if len(data) < REPLY_HEADER_BYTES + REPLY_SIGNATURE_BYTES:
        raise ReplyFormatError("reply truncated")
    if data[4] != REPLY_VERSION:
        raise ReplyFormatError(f"reply format version {data[4]} is unknown")
    if len(data) > MAX_REPLY_FILE_BYTES:
        raise ReplyFormatError("reply file too large")
    report = data[5:21].hex()
    reply_kid = data[21:29]
    signer = data[29:37]
    (sealed_len,) = struct.unpack(">I", data[37:41])
    end = REPLY_HEADER_BYTES + sealed_len
    if sealed_len <= SEAL_OVERHEAD or end + REPLY_SIGNATURE_BYTES != len(data):
        raise ReplyFormatError("reply length fields do not match the file")
    return SignedReply(
        report_id=ReportId(report),
        reply_key_id=reply_kid,
        signer_key_id=signer,
        sealed=data[REPLY_HEADER_BYTES:end],
        signed=data[:end],
        signature=data[end:],
    )


def verify_reply(data: bytes, analysts: Sequence[AnalystPublicKey]) -> SignedReply:
    """Structure and signature; the signer must be one of ``analysts``."""
    reply = parse_reply(data)
    signer = next((a for a in analysts if a.key_id == reply.signer_key_id), None)
    if signer is None:
        raise UnknownSignerError(
            f"signed by key id {reply.signer_key_id.hex()}, which is not an analyst key of this bot"
        )
    try:
        signer.verify_key.verify(reply.signed, reply.signature)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError):
        raise BadReplySignatureError("reply signature does not verify: forged or altered") from None
    return reply


@dataclass(frozen=True, slots=True)
class Reply:
    """An opened reply, for the reporter's eyes only."""

    text: str
    day: date | None


def open_reply(
    data: bytes, report_id: ReportId, derived: Derived, analysts: Sequence[AnalystPublicKey]
) -> Reply:
    """Verify, then open with the reply key derived from the reporter's code."""
    reply = verify_reply(data, analysts)
    private = PrivateKey.from_seed(derived.seed)
    if reply.report_id != report_id or reply.reply_key_id != key_id(bytes(private.public_key)):
        raise ReplyFormatError("reply is addressed to another report")
    try:
        padded = SealedBox(private).decrypt(reply.sealed)
        fields, _ = decode_plaintext(padded)
    except (nacl.exceptions.CryptoError, FormatError):
        raise ReplyFormatError("reply does not open with this report's key") from None
    text = fields.get("text")
    if fields.get("kind") != REPLY_KIND or fields.get("report") != report_id:
        raise ReplyFormatError("reply plaintext is not a reply to this report")
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_REPLY_TEXT_CHARS:
        raise ReplyFormatError("reply text missing or too long")
    day: date | None = None
    raw_day = fields.get("day")
    if isinstance(raw_day, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw_day):
        try:
            day = date.fromisoformat(raw_day)
        except ValueError:
            day = None
    return Reply(text=text, day=day)
