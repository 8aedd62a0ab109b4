"""Receipts: the code a reporter keeps, what the server derives from it, and analysts' replies.

A receipt code is two Russian mobile numbers (``8 9XX XXX-XX-XX``): written on paper or in a
notebook it looks like a pair of phone numbers, nothing else. Each number carries 9 random
decimal digits (the ``8 9`` in front is fixed), so a code holds 18 random digits:
``18 * log2(10) = 59.79`` bits of entropy (:data:`CODE_ENTROPY_BITS`). No checksum: every digit is
random, a typo is simply a wrong code.

The server never stores the code. From it and a random per-database salt it derives, with
argon2id (:func:`derive`)::

    master = argon2id(b"rb-receipt-v1:" + 18 ASCII digits, salt, opslimit, memlimit)  32 bytes
    tag    = BLAKE2b(b"", key=master, size=32, person="reportbot-rcptag")   stored: finds the report
    seed   = BLAKE2b(b"", key=master, size=32, person="reportbot-rplkey")   never stored
    reply key pair = crypto_box_seed_keypair(seed)                             X25519

The database keeps ``tag -> report id`` only. The reply public key travels sealed to the analysts
inside the report's manifest (``reply_key``); analysts seal their replies to it and sign them
with their own Ed25519 key (:func:`parse_reply`, format in ``docs/format.md``). The bot checks
the signature against the analysts' keys it was configured with, stores the reply as it came
(still sealed), and can open it only while a reporter who typed the right code is in a follow-up
conversation: the private half exists in memory for that conversation only.

This module holds a private key type (the reporter's reply key, derived from the code). It is
not an analyst key: the bot still holds no key that opens a report.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import math
import re
import secrets
import struct
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Final

import nacl.bindings
import nacl.exceptions
import nacl.hash
import nacl.pwhash
from nacl.encoding import RawEncoder
from nacl.public import PrivateKey, SealedBox

from bot.questionnaire.flow import AnswerValue
from bot.sealing.envelope import (
    MAX_SLOT,
    REPORT_ID_PATTERN,
    FormatError,
    RecordKind,
    ReportContext,
    SealingError,
    decode_plaintext,
    seal_record,
)
from bot.sealing.keys import KEY_ID_BYTES, AnalystPublicKey, Recipients, key_id
from storage.base import ReportId, ReportStore
from storage.errors import ReceiptExistsError, UnknownReceiptError

log = logging.getLogger("bot.receipts.service")

# --------------------------------------------------------------------------------------------
# The code
# --------------------------------------------------------------------------------------------

CODE_NUMBERS: Final = 2
DIGITS_PER_NUMBER: Final = 9
CODE_DIGITS: Final = CODE_NUMBERS * DIGITS_PER_NUMBER
CODE_ENTROPY_BITS: Final = CODE_DIGITS * math.log2(10)
"""59.79 bits: 18 independent, uniformly random decimal digits."""

_PREFIXES: Final = ("89", "79", "9")
"""How a number may start when typed back: ``8 9..``, ``+7 9..`` or just ``9..``."""


class ReceiptCode:
    """A code as 18 ASCII digits. Its ``repr`` never shows them (logs, tracebacks)."""

    __slots__ = ("_digits",)

    def __init__(self, digits: str) -> None:
        if len(digits) != CODE_DIGITS or not digits.isascii() or not digits.isdigit():
            raise ValueError(f"a receipt code is {CODE_DIGITS} digits")
        self._digits = digits

    @property
    def digits(self) -> str:
        return self._digits

    def numbers(self) -> tuple[str, ...]:
        """The code as phone numbers: ``8 9DD DDD-DD-DD`` each."""
        out = []
        for i in range(CODE_NUMBERS):
            d = self._digits[i * DIGITS_PER_NUMBER : (i + 1) * DIGITS_PER_NUMBER]
            out.append(f"8 9{d[0:2]} {d[2:5]}-{d[5:7]}-{d[7:9]}")
        return tuple(out)

    def display(self) -> str:
        """One number per line, as shown to the reporter."""
        return "\n".join(self.numbers())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ReceiptCode) and secrets.compare_digest(
            self._digits, other._digits
        )

    def __hash__(self) -> int:
        return hash(("ReceiptCode", self._digits))

    def __repr__(self) -> str:
        return "ReceiptCode(<hidden>)"


def new_code(randbelow: Callable[[int], int] = secrets.randbelow) -> ReceiptCode:
    """A fresh code from the system's CSPRNG."""
    return ReceiptCode(
        "".join(
            str(randbelow(10**DIGITS_PER_NUMBER)).zfill(DIGITS_PER_NUMBER)
            for _ in range(CODE_NUMBERS)
        )
    )


MAX_CODE_INPUT_CHARS: Final = 200
"""Longer messages are not a code (and are not looked at further)."""


def parse_code(text: str) -> ReceiptCode | None:
    """The code in what a reporter typed, or None when it is not two such numbers.

    Anything but digits is ignored (spaces, dashes, brackets, ``+``), full-width digits count;
    each number may be typed as ``8 9..``, ``+7 9..`` or ``9..`` followed by its 9 digits.
    """
    if not isinstance(text, str) or len(text) > MAX_CODE_INPUT_CHARS:
        return None
    digits = "".join(ch for ch in unicodedata.normalize("NFKC", text) if "0" <= ch <= "9")
    free: list[str] = []
    pos = 0
    for _ in range(CODE_NUMBERS):
        prefix = next((p for p in _PREFIXES if digits.startswith(p, pos)), None)
        if prefix is None:
            return None
        start = pos + len(prefix)
        part = digits[start : start + DIGITS_PER_NUMBER]
        if len(part) != DIGITS_PER_NUMBER:
            return None
        free.append(part)
        pos = start + DIGITS_PER_NUMBER
    if pos != len(digits):
        return None
    return ReceiptCode("".join(free))


# --------------------------------------------------------------------------------------------
# Derivation
# --------------------------------------------------------------------------------------------

CODE_PASSWORD_PREFIX: Final = b"rb-receipt-v1:"
TAG_PERSON: Final = b"reportbot-rcptag"
SEED_PERSON: Final = b"reportbot-rplkey"
TAG_BYTES: Final = 32
SALT_BYTES: Final = nacl.pwhash.argon2id.SALTBYTES


@dataclass(frozen=True, slots=True)
class KdfLimits:
    """argon2id cost. Fixed for a database's life: other limits derive other tags."""

    opslimit: int
    memlimit: int


PRODUCTION_KDF: Final = KdfLimits(
    nacl.pwhash.argon2id.OPSLIMIT_INTERACTIVE, nacl.pwhash.argon2id.MEMLIMIT_INTERACTIVE
)
"""libsodium's "interactive" limits: 2 passes over 64 MiB, about 0.2 s per code on one core."""

TEST_KDF: Final = KdfLimits(nacl.pwhash.argon2id.OPSLIMIT_MIN, nacl.pwhash.argon2id.MEMLIMIT_MIN)
"""For tests only: fast and far too weak for real codes."""


@dataclass(frozen=True, slots=True)
class Derived:
    """What a code yields. ``seed`` opens replies: keep it in memory for one conversation only."""

    tag: bytes
    seed: bytes

    def __repr__(self) -> str:
        return "Derived(<hidden>)"

    @property
    def reply_public(self) -> bytes:
        return bytes(PrivateKey.from_seed(self.seed).public_key)


def derive(code: ReceiptCode, salt: bytes, limits: KdfLimits) -> Derived:
    """argon2id of the code, split into the lookup tag and the reply key seed. CPU-bound."""
    if len(salt) != SALT_BYTES:
        raise ValueError("receipt salt must be 16 bytes")
    master = nacl.pwhash.argon2id.kdf(
        32,
        CODE_PASSWORD_PREFIX + code.digits.encode("ascii"),
        salt,
        limits.opslimit,
        limits.memlimit,
    )
    tag = nacl.hash.blake2b(
        b"", digest_size=TAG_BYTES, key=master, person=TAG_PERSON, encoder=RawEncoder
    )
    seed = nacl.hash.blake2b(
        b"", digest_size=32, key=master, person=SEED_PERSON, encoder=RawEncoder
    )
    return Derived(tag=tag, seed=seed)


REPLY_KEY_PREFIX: Final = "rb-reply-pub-v1:"


def reply_key_token(public: bytes) -> str:
    """A report's reply public key as one line of text (in the manifest and the toolkit)."""
    if len(public) != 32:
        raise ValueError("a reply key is 32 bytes")
    return REPLY_KEY_PREFIX + base64.b64encode(public).decode("ascii")


def parse_reply_key(text: str) -> bytes:
    """The 32 bytes of ``rb-reply-pub-v1:...``; ValueError with one clear line otherwise."""
    token = text.strip() if isinstance(text, str) else ""
    if not token.startswith(REPLY_KEY_PREFIX):
        raise ValueError(f"not a reply key (expected text starting with {REPLY_KEY_PREFIX!r})")
    try:
        raw = base64.b64decode(token.removeprefix(REPLY_KEY_PREFIX).encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise ValueError("reply key is not valid base64") from None
    if len(raw) != 32:
        raise ValueError("reply key has the wrong length")
    try:
        nacl.bindings.crypto_box_seal(b"\x00", raw)
    except (nacl.exceptions.CryptoError, nacl.exceptions.RuntimeError):
        raise ValueError("reply key is not a valid X25519 public key") from None
    return raw


# --------------------------------------------------------------------------------------------
# Follow-ups: what a reporter adds to an earlier report
# --------------------------------------------------------------------------------------------

FOLLOWUP_QUESTION: Final = "followup"
"""The ``question`` of attachments sent in a follow-up."""


def seal_followup(
    recipients: Recipients,
    context: ReportContext,
    *,
    slot: int,
    follows: str,
    n: int,
    content: AnswerValue,
) -> bytes:
    """Seal one addition (``{"text": ...}`` or ``{"media": [...]}``) to an earlier report.

    ``context`` is the follow-up's own (fresh) report id; ``follows`` the report it adds to. The
    store sees a new report and cannot tell it adds to another; analysts link them. ``n`` counts
    the additions of one follow-up from 1, in the order they were sent (slots are random).
    """
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_SLOT:
        raise SealingError("n must be a whole number from 1")
    if not isinstance(follows, str) or not REPORT_ID_PATTERN.fullmatch(follows):
        raise SealingError("follows must be a report id")
    if follows == context.report_id:
        raise SealingError("a follow-up cannot follow itself")
    if not isinstance(content, dict) or not content:
        raise SealingError("a follow-up carries a text or media")
    fields = context.fields(RecordKind.FOLLOWUP, slot)
    fields["follows"] = follows
    fields["n"] = n
    fields["content"] = content
    return seal_record(recipients, fields)


# --------------------------------------------------------------------------------------------
# Analysts' replies: the signed, sealed file an analyst posts in the channel
# --------------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------------
# The service the bot uses
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedReceipt:
    """A receipt just made: the code (shown once, never stored) and the reply key to seal."""

    code: ReceiptCode
    reply_key: str

    def __repr__(self) -> str:
        return "IssuedReceipt(<hidden>)"


@dataclass(frozen=True)
class Match:
    """A code that found its report: the report id and what opens its replies."""

    report_id: ReportId
    derived: Derived

    def __repr__(self) -> str:
        return "Match(<hidden>)"


class ReplyOutcome(StrEnum):
    STORED = "stored"
    DUPLICATE = "duplicate"
    NOT_A_REPLY = "not_a_reply"
    MALFORMED = "malformed"
    UNKNOWN_SIGNER = "unknown_signer"
    BAD_SIGNATURE = "bad_signature"
    NO_RECEIPT = "no_receipt"


MAX_REPLIES_SHOWN: Final = 20


class ReceiptService:
    """Issues receipts, finds reports from codes, takes in and opens analysts' replies.

    ``kdf`` is fixed for the life of a database (tests pass :data:`TEST_KDF`); ``concurrency``
    bounds how many argon2id derivations run at once (each takes ``kdf.memlimit`` of memory).
    """

    def __init__(
        self,
        store: ReportStore,
        analysts: Sequence[AnalystPublicKey],
        *,
        kdf: KdfLimits = PRODUCTION_KDF,
        concurrency: int = 2,
        randbelow: Callable[[int], int] = secrets.randbelow,
    ) -> None:
        if not analysts:
            raise ValueError("replies need at least one analyst key to check signatures with")
        self.store = store
        self.analysts: tuple[AnalystPublicKey, ...] = tuple(analysts)
        self.kdf = kdf
        self._randbelow = randbelow
        self._slots = asyncio.Semaphore(concurrency)
        self._salt: bytes | None = None

    async def _derive(self, code: ReceiptCode) -> Derived:
        if self._salt is None:
            self._salt = await self.store.receipt_salt()
        async with self._slots:
            return await asyncio.to_thread(derive, code, self._salt, self.kdf)

    async def issue(self, report_id: ReportId) -> IssuedReceipt:
        """Make a code for ``report_id`` (still open) and store only its lookup tag."""
        for _ in range(3):
            code = new_code(self._randbelow)
            derived = await self._derive(code)
            try:
                await self.store.put_receipt(derived.tag, report_id)
            except ReceiptExistsError:
                continue  # a tag already taken (odds 1 in 2^59 per receipt): draw again
            return IssuedReceipt(code=code, reply_key=reply_key_token(derived.reply_public))
        raise ReceiptExistsError

    async def find(self, code: ReceiptCode) -> Match | None:
        """The report a code opens, or None. The same work is done either way."""
        derived = await self._derive(code)
        report_id = await self.store.find_receipt(derived.tag)
        return None if report_id is None else Match(report_id, derived)

    async def accept_reply(self, data: bytes) -> ReplyOutcome:
        """A file posted in the analyst channel: keep it (still sealed) if it is a good reply."""
        if data[:4] != REPLY_MAGIC:
            return ReplyOutcome.NOT_A_REPLY
        try:
            reply = verify_reply(data, self.analysts)
        except UnknownSignerError:
            outcome = ReplyOutcome.UNKNOWN_SIGNER
        except BadReplySignatureError:
            outcome = ReplyOutcome.BAD_SIGNATURE
        except ReplyFormatError:
            outcome = ReplyOutcome.MALFORMED
        else:
            try:
                added = await self.store.add_reply(reply.report_id, bytes(data))
            except UnknownReceiptError:
                outcome = ReplyOutcome.NO_RECEIPT
            else:
                outcome = ReplyOutcome.STORED if added else ReplyOutcome.DUPLICATE
        level = logging.INFO if outcome is ReplyOutcome.STORED else logging.WARNING
        log.log(level, "analyst_reply", extra={"fields": {"outcome": outcome.value}})
        return outcome

    async def replies(self, match: Match) -> list[Reply]:
        """The replies to a matched report that verify and open; the newest last."""
        stored = await self.store.replies(match.report_id)
        opened: list[Reply] = []
        refused = 0
        for data in stored[-MAX_REPLIES_SHOWN:]:
            try:
                opened.append(open_reply(data, match.report_id, match.derived, self.analysts))
            except ReplyError:
                refused += 1
        if refused:
            log.warning("stored_replies_refused", extra={"fields": {"count": refused}})
        return opened
