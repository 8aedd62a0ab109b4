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
    SCHEME_1,
    SCHEME_2,
    Derived,
    ReceiptKdf,
    reply_key_token,
    slow_hash_v1,
    slow_hash_v2,
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
from storage.base import ReceiptScheme, ReportId, ReportStore
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

    ``kdf`` is fixed for the life of a database (tests pass :data:`TEST_KDF`). At most
    ``concurrency`` argon2id runs go at once (each holds its ``memlimit``: at most
    ``concurrency`` x 64 MiB), and at most one of them is a lookup's: a lookup runs its 2^k runs
    one after another in one thread, so a flood of wrong codes takes one core at most and making
    receipts always has the other slot. ``secret_salt`` draws ``r`` (tests inject it).
    """

    def __init__(
        self,
        store: ReportStore,
        analysts: Sequence[AnalystPublicKey],
        *,
        pepper: ReceiptPepper,
        kdf: ReceiptKdf = PRODUCTION_KDF,
        concurrency: int = 2,
        randbelow: Callable[[int], int] = secrets.randbelow,
        secret_salt: Callable[[int], int] = secrets.randbelow,
    ) -> None:
        if not analysts:
            raise ValueError("replies need at least one analyst key to check signatures with")
        if concurrency < 2:
            raise ValueError("receipts need two argon2id slots: one for lookups, one to make them")
        self.store = store
        self.analysts: tuple[AnalystPublicKey, ...] = tuple(analysts)
        self.kdf = kdf
        self._pepper = pepper.secret
        self._randbelow = randbelow
        self._secret_salt = secret_salt
        self._slots = asyncio.Semaphore(concurrency)
        self._lookups = asyncio.Semaphore(1)
        self._salt: bytes | None = None

    async def _db_salt(self) -> bytes:
        if self._salt is None:
            self._salt = await self.store.receipt_salt()
        return self._salt

    async def issue(self, report_id: ReportId) -> IssuedReceipt:
        """Make a code for ``report_id`` (still open) and store only its lookup tag (scheme 2).

        One argon2id run; ``r`` is forgotten when this returns.
        """
        salt = await self._db_salt()
        for _ in range(3):
            code = new_code(self._randbelow)
            r = self._secret_salt(self.kdf.secret_salts)
            if not 0 <= r < self.kdf.secret_salts:  # a receipt no lookup would find
                raise ValueError("the secret salt is out of range")
            async with self._slots:
                slow = await asyncio.to_thread(slow_hash_v2, code, r, salt, self.kdf.v2)
            derived = split(slow, self._pepper, SCHEME_2)
            try:
                await self.store.put_receipt(derived.tag, report_id, scheme=ReceiptScheme.V2)
            except ReceiptExistsError:
                continue  # a tag already taken (odds 1 in 2^59 per receipt): draw again
            return IssuedReceipt(code=code, reply_key=reply_key_token(derived.reply_public))
        raise ReceiptExistsError

    def _lookup_runs(self, code: ReceiptCode, salt: bytes, with_v1: bool) -> list[bytes]:
        """In one worker thread: scheme 2's argon2id for every ``r``, then scheme 1's if asked."""
        runs = [slow_hash_v2(code, r, salt, self.kdf.v2) for r in range(self.kdf.secret_salts)]
        if with_v1:
            runs.append(slow_hash_v1(code, salt, self.kdf.v1))
        return runs

    async def find(self, code: ReceiptCode) -> Match | None:
        """The report a code opens, or None. The same work is done either way.

        Scheme 2: all 2^k candidate tags, one per ``r``, looked up in one query. Scheme 1, while
        the database still holds scheme-1 tags: one more run serving both the peppered tag and,
        for receipts made before the pepper, the legacy one.
        """
        salt = await self._db_salt()
        with_v1 = await self.store.holds_receipts(ReceiptScheme.V1)
        async with self._lookups, self._slots:
            runs = await asyncio.to_thread(self._lookup_runs, code, salt, with_v1)
        candidates = [split(slow, self._pepper, SCHEME_2) for slow in runs[: self.kdf.secret_salts]]
        found = await self.store.find_receipts([c.tag for c in candidates], scheme=ReceiptScheme.V2)
        if with_v1:
            old = [split(runs[-1], self._pepper, SCHEME_1), split(runs[-1], None, SCHEME_1)]
            tags = [c.tag for c in old]
            old_found = await self.store.find_receipts(tags, scheme=ReceiptScheme.V1)
            if found is None and old_found is not None:
                return Match(old_found[1], old[old_found[0]])
        return None if found is None else Match(found[1], candidates[found[0]])

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
