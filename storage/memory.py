"""An in-memory :class:`storage.base.ReportStore` with the same contract as the SQLite one.

For tests of the bot and the digest sender that need a store but not a file. It forgets
everything when the object goes away, and so proves nothing about durability or disk hygiene;
``tests/test_storage_contract.py`` runs the same behavioural tests against both.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from storage.base import (
    CLOSED_STATES,
    ERASE_DAYS,
    MAX_ANSWER_BYTES,
    MAX_ATTACHMENT_BYTES,
    MAX_DIGEST_PART_BYTES,
    MAX_REPLY_BYTES,
    RECEIPT_SALT_BYTES,
    ChannelBinding,
    Clock,
    DigestInfo,
    DigestPart,
    DigestState,
    Dummy,
    OutboxDigest,
    ReceiptScheme,
    ReportId,
    ReportState,
    RetentionCounts,
    RetentionPolicy,
    StoreCounts,
    StoredReport,
    check_blob,
    check_erase_ids,
    check_slot,
    check_tag,
    check_tags,
    free_slots,
    join_fingerprints,
    new_report_id,
    padded_answer_rows,
    parse_report_id,
    utc_today,
)
from storage.errors import (
    DigestSequenceError,
    InvalidEnvelopeError,
    ReceiptExistsError,
    ReportClosedError,
    ReportNotReadyError,
    StoreClosedError,
    UnknownDigestError,
    UnknownReceiptError,
    UnknownReportError,
)


@dataclass
class _Report:
    created_day: date
    state: ReportState = ReportState.OPEN
    manifest: bytes | None = None
    answers: dict[int, bytes] = field(default_factory=dict)
    attachments: dict[int, bytes] = field(default_factory=dict)
    digest_seq: int | None = None


@dataclass
class _Digest:
    created_day: date
    parts: list[bytes]
    posted_parts: set[int] = field(default_factory=set)
    state: DigestState = DigestState.PENDING
    attempts: int = 0
    posted_day: date | None = None


@dataclass
class _Receipt:
    tag: bytes
    created_day: date
    scheme: ReceiptScheme
    replies: list[bytes] = field(default_factory=list)


class MemoryReportStore:
    """Dictionaries behind the ReportStore contract. Not thread-safe; one event loop."""

    def __init__(self, *, clock: Clock = utc_today) -> None:
        self._clock = clock
        self._reports: dict[ReportId, _Report] = {}
        self._digests: dict[int, _Digest] = {}
        self._binding: ChannelBinding | None = None
        self._salt = secrets.token_bytes(RECEIPT_SALT_BYTES)
        self._receipts: dict[ReportId, _Receipt] = {}
        self._erase: dict[bytes, dict[int, tuple[bool, date]]] = {}
        self._closed = False

    def _live(self) -> None:
        if self._closed:
            raise StoreClosedError

    def _report(self, report_id: ReportId) -> _Report:
        self._live()
        report = self._reports.get(parse_report_id(report_id))
        if report is None:
            raise UnknownReportError
        return report

    def _open(self, report_id: ReportId) -> _Report:
        report = self._report(report_id)
        if report.state is not ReportState.OPEN:
            raise ReportClosedError
        return report

    def _digest(self, seq: int) -> _Digest:
        self._live()
        digest = self._digests.get(seq)
        if digest is None:
            raise UnknownDigestError
        return digest

    # -- reports ------------------------------------------------------------------------------

    async def open_report(self) -> ReportId:
        self._live()
        report_id = new_report_id()
        self._reports[report_id] = _Report(created_day=self._clock())
        return report_id

    async def put_answer(self, report_id: ReportId, slot: int, envelope: bytes) -> None:
        parse_report_id(report_id)
        check_slot(slot)
        data = check_blob(envelope, MAX_ANSWER_BYTES, "a sealed answer")
        self._open(report_id).answers[slot] = data

    async def delete_answer(self, report_id: ReportId, slot: int) -> bool:
        check_slot(slot)
        return self._open(report_id).answers.pop(slot, None) is not None

    async def put_attachment(self, report_id: ReportId, slot: int, envelope: bytes) -> None:
        parse_report_id(report_id)
        check_slot(slot)
        data = check_blob(envelope, MAX_ATTACHMENT_BYTES, "a sealed attachment")
        self._open(report_id).attachments[slot] = data

    async def delete_attachment(self, report_id: ReportId, slot: int) -> bool:
        check_slot(slot)
        return self._open(report_id).attachments.pop(slot, None) is not None

    async def close_report(
        self,
        report_id: ReportId,
        state: ReportState,
        manifest: bytes,
        *,
        dummy: Dummy | None = None,
    ) -> None:
        parse_report_id(report_id)
        if state not in CLOSED_STATES:
            raise ValueError("a report is closed as complete or interrupted")
        data = check_blob(manifest, MAX_ANSWER_BYTES, "a sealed manifest")
        report = self._open(report_id)
        report.state = state
        report.manifest = data
        if dummy is not None:
            real = len(report.answers)
            used = {*report.answers, *report.attachments}
            for slot in free_slots(used, padded_answer_rows(real) - real):
                report.answers[slot] = check_blob(dummy(), MAX_ANSWER_BYTES, "a sealed dummy")

    async def discard_report(self, report_id: ReportId) -> bool:
        self._live()
        return self._reports.pop(parse_report_id(report_id), None) is not None

    async def load_report(
        self, report_id: ReportId, *, with_attachments: bool = True
    ) -> StoredReport:
        report = self._report(report_id)
        return StoredReport(
            report_id=report_id,
            state=report.state,
            created_day=report.created_day,
            manifest=report.manifest,
            answers=dict(report.answers),
            attachments=dict(report.attachments) if with_attachments else {},
            digest_seq=report.digest_seq,
        )

    async def open_reports(self) -> list[ReportId]:
        self._live()
        return sorted(r for r, rep in self._reports.items() if rep.state is ReportState.OPEN)

    async def ready_reports(self) -> list[ReportId]:
        self._live()
        return sorted(
            r
            for r, rep in self._reports.items()
            if rep.state in CLOSED_STATES and rep.digest_seq is None
        )

    # -- digest outbox ------------------------------------------------------------------------

    async def next_digest_seq(self) -> int:
        self._live()
        return max(self._digests, default=0) + 1

    async def add_digest(
        self, seq: int, parts: Sequence[bytes], report_ids: Collection[ReportId]
    ) -> None:
        if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
            raise DigestSequenceError
        if not parts:
            raise InvalidEnvelopeError("a digest has at least its signed part")
        blobs = [check_blob(p, MAX_DIGEST_PART_BYTES, "a digest part") for p in parts]
        ids = {parse_report_id(r) for r in report_ids}
        if seq != await self.next_digest_seq():
            raise DigestSequenceError
        carried = [rep for r in ids if (rep := self._reports.get(r)) is not None]
        if len(carried) != len(ids) or any(
            rep.state not in CLOSED_STATES or rep.digest_seq is not None for rep in carried
        ):
            raise ReportNotReadyError
        self._digests[seq] = _Digest(created_day=self._clock(), parts=blobs)
        for report in carried:
            report.digest_seq = seq

    def _outbox(self, seq: int, digest: _Digest) -> OutboxDigest:
        return OutboxDigest(
            seq=seq,
            created_day=digest.created_day,
            state=digest.state,
            attempts=digest.attempts,
            posted_day=digest.posted_day,
            parts=tuple(
                DigestPart(part=n, data=data, posted=n in digest.posted_parts)
                for n, data in enumerate(digest.parts)
            ),
        )

    async def pending_digests(self) -> list[OutboxDigest]:
        self._live()
        return [
            self._outbox(seq, d)
            for seq, d in sorted(self._digests.items())
            if d.state is DigestState.PENDING
        ]

    async def get_digest(self, seq: int) -> OutboxDigest:
        return self._outbox(seq, self._digest(seq))

    async def list_digests(self) -> list[DigestInfo]:
        self._live()
        return [
            DigestInfo(
                seq=seq,
                created_day=d.created_day,
                state=d.state,
                attempts=d.attempts,
                posted_day=d.posted_day,
                parts=len(d.parts),
                reports=sum(1 for r in self._reports.values() if r.digest_seq == seq),
                size=sum(len(p) for p in d.parts),
            )
            for seq, d in sorted(self._digests.items())
        ]

    async def digest_reports(self, seq: int) -> list[ReportId]:
        self._live()
        return sorted(r for r, rep in self._reports.items() if rep.digest_seq == seq)

    async def record_attempt(self, seq: int) -> int:
        digest = self._digest(seq)
        digest.attempts += 1
        return digest.attempts

    async def mark_part_posted(self, seq: int, part: int) -> None:
        digest = self._digest(seq)
        if not 0 <= part < len(digest.parts):
            raise UnknownDigestError
        digest.posted_parts.add(part)

    async def mark_digest_posted(self, seq: int) -> None:
        digest = self._digest(seq)
        if digest.state is DigestState.PENDING:
            digest.state = DigestState.POSTED
            digest.posted_day = self._clock()
            digest.posted_parts = set(range(len(digest.parts)))

    # -- analyst channel ----------------------------------------------------------------------

    async def channel_binding(self) -> ChannelBinding | None:
        self._live()
        return self._binding

    async def set_channel_binding(self, binding: ChannelBinding) -> None:
        self._live()
        join_fingerprints(binding.key_fingerprints)
        self._binding = binding

    async def clear_channel_binding(self) -> None:
        self._live()
        self._binding = None

    # -- messages to erase from reporters' chats ---------------------------------------------

    async def remember_messages(
        self, conversation: bytes, message_ids: Sequence[int], *, keep: bool = False
    ) -> None:
        await self.note_messages(conversation, message_ids, keep=keep)

    def note_messages(
        self, conversation: bytes, message_ids: Sequence[int], *, keep: bool = False
    ) -> asyncio.Future[None]:
        self._live()
        ids = check_erase_ids(conversation, message_ids)
        noted = self._erase.setdefault(conversation, {})
        for mid in ids:
            noted[mid] = (keep, self._clock())
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)  # nothing to wait for in memory
        return done

    async def forget_messages(
        self, conversation: bytes, message_ids: Sequence[int] | None = None
    ) -> None:
        self._live()
        check_erase_ids(conversation, [])
        if message_ids is None:
            self._erase.pop(conversation, None)
            return
        noted = self._erase.get(conversation, {})
        for mid in check_erase_ids(conversation, message_ids):
            noted.pop(mid, None)
        if not noted:
            self._erase.pop(conversation, None)

    async def messages_to_erase(self) -> dict[bytes, list[tuple[int, bool]]]:
        self._live()
        cutoff = self._clock() - timedelta(days=ERASE_DAYS)
        out: dict[bytes, list[tuple[int, bool]]] = {}
        for key, noted in list(self._erase.items()):
            for mid, (keep, day) in list(noted.items()):
                if day < cutoff:
                    del noted[mid]
                else:
                    out.setdefault(key, []).append((mid, keep))
            if not noted:
                del self._erase[key]
        return out

    # -- receipts and replies -----------------------------------------------------------------

    async def receipt_salt(self) -> bytes:
        self._live()
        return self._salt

    async def put_receipt(
        self, tag: bytes, report_id: ReportId, *, scheme: ReceiptScheme = ReceiptScheme.V2
    ) -> None:
        tag = check_tag(tag)
        scheme = ReceiptScheme(scheme)
        self._report(report_id)
        if report_id in self._receipts or any(r.tag == tag for r in self._receipts.values()):
            raise ReceiptExistsError
        self._receipts[report_id] = _Receipt(tag=tag, created_day=self._clock(), scheme=scheme)

    async def find_receipts(
        self, tags: Sequence[bytes], *, scheme: ReceiptScheme
    ) -> tuple[int, ReportId] | None:
        self._live()
        wanted: dict[bytes, int] = {}
        for i, tag in enumerate(check_tags(tags)):
            wanted.setdefault(tag, i)
        found = [
            (wanted[rec.tag], r)
            for r, rec in self._receipts.items()
            if rec.scheme == scheme and rec.tag in wanted
        ]
        return min(found) if found else None

    async def holds_receipts(self, scheme: ReceiptScheme) -> bool:
        self._live()
        return any(rec.scheme == scheme for rec in self._receipts.values())

    async def add_reply(self, report_id: ReportId, sealed: bytes) -> bool:
        self._live()
        data = check_blob(sealed, MAX_REPLY_BYTES, "a sealed reply")
        receipt = self._receipts.get(parse_report_id(report_id))
        if receipt is None:
            raise UnknownReceiptError
        if data in receipt.replies:
            return False
        receipt.replies.append(data)
        return True

    async def replies(self, report_id: ReportId) -> list[bytes]:
        self._live()
        receipt = self._receipts.get(parse_report_id(report_id))
        return [] if receipt is None else list(receipt.replies)

    # -- upkeep -------------------------------------------------------------------------------

    async def apply_retention(self, policy: RetentionPolicy) -> RetentionCounts:
        self._live()
        today = self._clock()
        report_cutoff = today - timedelta(days=policy.report_days)
        receipt_cutoff = today - timedelta(days=policy.receipt_days)
        due = {
            seq
            for seq, d in self._digests.items()
            if d.state is DigestState.POSTED
            and d.posted_day is not None
            and d.posted_day <= report_cutoff
        }
        gone = [r for r, rep in self._reports.items() if rep.digest_seq in due]
        for r in gone:
            del self._reports[r]
        for seq in due:
            self._digests[seq].parts = []
            self._digests[seq].posted_parts = set()
            self._digests[seq].state = DigestState.PRUNED
        old = [r for r, rec in self._receipts.items() if rec.created_day <= receipt_cutoff]
        replies = sum(len(self._receipts[r].replies) for r in old)
        for r in old:
            del self._receipts[r]
        return RetentionCounts(
            reports=len(gone), digests=len(due), receipts=len(old), replies=replies
        )

    async def counts(self) -> StoreCounts:
        self._live()
        reports = {state.value: 0 for state in ReportState}
        for rep in self._reports.values():
            reports[rep.state.value] += 1
        reports["carried"] = sum(1 for r in self._reports.values() if r.digest_seq is not None)
        digests = {state.value: 0 for state in DigestState}
        for d in self._digests.values():
            digests[d.state.value] += 1
        return StoreCounts(
            reports=reports,
            answers=sum(len(r.answers) for r in self._reports.values()),
            attachments=sum(len(r.attachments) for r in self._reports.values()),
            digests=digests,
            receipts=len(self._receipts),
            replies=sum(len(r.replies) for r in self._receipts.values()),
        )

    async def close(self) -> None:
        self._closed = True
