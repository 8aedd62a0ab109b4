"""The receipts service the bot uses: issue a receipt, find a report from a code, take in and
open analysts' replies.

The pieces it is made of, each in its own module: ``codes`` (the code the reporter keeps),
``derivation`` (argon2id: the stored tag and the reply key), ``replies`` (the reply file format and
the server's one decrypt), ``followups`` (a reporter adding to an earlier report).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from bot.receipts.codes import ReceiptCode, new_code
from bot.receipts.derivation import (
    PRODUCTION_KDF,
    Derived,
    KdfLimits,
    reply_key_token,
    slow_hash,
    split,
)
from bot.receipts.pepper import ReceiptPepper
from bot.receipts.replies import (
    REPLY_MAGIC,
    BadReplySignatureError,
    Reply,
    ReplyError,
    ReplyFormatError,
    UnknownSignerError,
    open_reply,
    verify_reply,
)
from bot.sealing.keys import AnalystPublicKey
from storage.base import ReportId, ReportStore
from storage.errors import ReceiptExistsError, UnknownReceiptError

log = logging.getLogger("bot.receipts.service")


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
        pepper: ReceiptPepper,
        kdf: KdfLimits = PRODUCTION_KDF,
        concurrency: int = 2,
        randbelow: Callable[[int], int] = secrets.randbelow,
    ) -> None:
        if not analysts:
            raise ValueError("replies need at least one analyst key to check signatures with")
        self.store = store
        self.analysts: tuple[AnalystPublicKey, ...] = tuple(analysts)
        self.kdf = kdf
        self._pepper = pepper.secret
        self._randbelow = randbelow
        self._slots = asyncio.Semaphore(concurrency)
        self._salt: bytes | None = None

    async def _slow(self, code: ReceiptCode) -> bytes:
        if self._salt is None:
            self._salt = await self.store.receipt_salt()
        async with self._slots:
            return await asyncio.to_thread(slow_hash, code, self._salt, self.kdf)

    async def _derive(self, code: ReceiptCode) -> Derived:
        return split(await self._slow(code), self._pepper)

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
        """The report a code opens, or None. The same work is done either way.

        One argon2id run serves both the peppered tag and, for receipts made before the pepper,
        the legacy one; both are always looked up.
        """
        slow = await self._slow(code)
        peppered, legacy = split(slow, self._pepper), split(slow, None)
        found = await self.store.find_receipt(peppered.tag)
        old = await self.store.find_receipt(legacy.tag)
        if found is not None:
            return Match(found, peppered)
        return None if old is None else Match(old, legacy)

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
