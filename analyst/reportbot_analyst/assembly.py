"""Opening digests into reports: verify, open every entry, join the carried parts, reassemble.

Every digest is checked against the pinned bot key (``reportbot_analyst.verifying``) before
anything in it is used. Its entries are carriers of fixed size holding parts of envelopes
(``reportbot_analyst.carriers`` puts them back together); each envelope is opened with the
analyst's keys and read as a record. The same record twice is dropped, a different copy of one
is named and the first kept; a report's answers follow its newest manifest (edited answers,
dropped branches); follow-ups are linked to the report they add to.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Final

from tqdm import tqdm

from bot.sealing.envelope import Digest, ExternalEntry, FormatError
from bot.sealing.keys import BotVerifyKey
from reportbot_analyst.carriers import Reassembly
from reportbot_analyst.keys import AnalystSecretKey
from reportbot_analyst.opening import (
    AnswerRecord,
    AttachmentRecord,
    CarrierRecord,
    DamagedError,
    FlowRecord,
    ManifestRecord,
    NotSealedToKeyError,
    OtherRecord,
    Record,
    ReportRecord,
    open_envelope,
    read_record,
)
from reportbot_analyst.threads import Colleague, PostedReply, read_posted
from reportbot_analyst.verifying import (
    NothingToOpenError,
    ToolkitError,
    VerifyResult,
    verify_files,
)

FOLLOWUP_KIND: Final = "followup"

RecordKey = tuple[str, int]  # (report id, slot)
Places = set[tuple[int, date]]  # the digests (number, day) a record came in


@dataclass
class Report:
    report: str
    flow: str = ""
    flow_version: str = ""
    lang: str = ""
    status: str = "unclosed"  # complete / interrupted / unclosed (no manifest seen)
    digests: set[int] = field(default_factory=set)
    days: set[date] = field(default_factory=set)
    records: dict[int, ReportRecord] = field(default_factory=dict)
    answers: list[AnswerRecord] = field(default_factory=list)
    attachments: list[AttachmentRecord] = field(default_factory=list)
    others: list[OtherRecord] = field(default_factory=list)
    reply_key: str | None = None  # receipts: what replies to this report are sealed to
    follows: str | None = None  # a follow-up: the report it adds to
    followups: list[Report] = field(default_factory=list)  # follow-ups linked to this report


@dataclass
class OpenResult:
    verify: VerifyResult
    reports: list[Report] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    entries: int = 0
    opened: int = 0
    dummies: int = 0
    duplicate_records: int = 0
    superseded: int = 0
    not_for_key: int = 0
    files_written: list[Path] = field(default_factory=list)
    flows: dict[tuple[str, str], FlowRecord] = field(default_factory=dict)  # snapshots seen
    replies: list[PostedReply] = field(default_factory=list)  # analysts' replies posted
    documents: list[dict[str, Any]] = field(default_factory=list)  # reports.jsonl, as written


def _entries(
    digest: Digest, envelopes: Mapping[bytes, bytes], notices: list[str]
) -> Iterator[bytes]:
    for i, entry in enumerate(digest.entries):
        if isinstance(entry, ExternalEntry):
            data = envelopes.get(entry.blob_hash)
            if data is None:
                notices.append(
                    f"digest #{digest.seq} entry {i}: refers to a separate file "
                    f"({entry.blob_hash.hex()[:16]}, {entry.length} bytes) not given"
                )
                continue
            yield data
        else:
            yield entry


def _usable(
    verified: VerifyResult, keys: Sequence[AnalystSecretKey], result: OpenResult
) -> list[Digest]:
    """The accepted digests sealed to one of ``keys``; the others are named in the notices."""
    accepted = verified.accepted
    if not accepted:
        raise NothingToOpenError(
            "no digest could be used: every file was rejected or none was given", verified
        )
    my_ids = {k.key_id for k in keys}
    usable = [d for d in accepted if my_ids & set(d.key_ids)]
    if not usable:
        listed = ", ".join(sorted({k.hex() for d in accepted for k in d.key_ids})) or "nobody"
        mine = ", ".join(sorted(k.hex() for k in my_ids))
        raise NothingToOpenError(
            f"none of the digests is sealed to your key ({mine}); they are sealed to {listed}: "
            "wrong key file?",
            verified,
        )
    for d in accepted:
        if d not in usable:
            result.notices.append(f"digest #{d.seq} is not sealed to your key: skipped")
    return usable


class _Opener:
    """Opens envelopes one at a time and keeps the first copy of every record, with the
    digests it came in; carried parts wait in a :class:`Reassembly` until they are whole."""

    def __init__(self, keys: Sequence[AnalystSecretKey], result: OpenResult) -> None:
        self.keys = keys
        self.result = result
        self.records: dict[RecordKey, ReportRecord] = {}
        self.where: dict[RecordKey, Places] = {}
        self.reassembly = Reassembly()

    def take(self, envelope: bytes, places: Places, label: str, *, outer: bool) -> None:
        record = self._open(envelope, label)
        if record is None:
            return
        if isinstance(record, CarrierRecord):
            if outer:  # parts of envelopes (fixed-size digests): put together in join()
                (seq, day) = next(iter(places))
                self.reassembly.add(record.parts, seq, day)
            else:
                self.result.notices.append(f"{label}: a carrier inside a carrier: not used")
        elif isinstance(record, FlowRecord):
            self.result.flows.setdefault((record.flow, record.flow_version), record)
        else:
            self._keep(record, places, label)

    def join(self) -> None:
        """Open every envelope whose carried parts came whole; name the ones still in parts."""
        for envelope, places in self.reassembly.complete():
            seqs = ", ".join(f"#{s}" for s, _ in sorted(places))
            self.take(envelope, places, f"an envelope carried in digest {seqs}", outer=False)
        self.result.notices += self.reassembly.incomplete()

    def _open(self, envelope: bytes, label: str) -> Record | None:
        """The record inside, or None (not for these keys, damaged, a dummy), counted."""
        try:
            record = read_record(open_envelope(envelope, self.keys))
        except NotSealedToKeyError:
            self.result.not_for_key += 1
            return None
        except (DamagedError, FormatError) as exc:
            self.result.notices.append(f"{label}: not used: {exc}")
            return None
        self.result.opened += 1
        if record is None:
            self.result.dummies += 1
        return record

    def _keep(self, record: ReportRecord, places: Places, label: str) -> None:
        head = record.head
        if head is None:
            self.result.notices.append(
                f"{label}: a record of an unknown kind without a report: not used"
            )
            return
        key = (head.report, head.slot)
        self.where.setdefault(key, set()).update(places)
        earlier = self.records.get(key)
        if earlier is None:
            self.records[key] = record
        elif earlier == record:
            self.result.duplicate_records += 1
        else:
            self.result.notices.append(
                f"{label}: report {key[0]} slot {key[1]} "
                "differs from an earlier copy: the first copy is kept"
            )


def open_digests(
    paths: Sequence[Path],
    keys: Sequence[AnalystSecretKey],
    verify_key: BotVerifyKey,
    *,
    known: Mapping[int, bytes] | None = None,
    progress: bool = False,
    colleagues: Sequence[Colleague] = (),
) -> OpenResult:
    """Verify, open and reassemble. Raises :class:`ToolkitError` when nothing can be opened.

    ``colleagues``: other analysts' public keys, to check the signatures of their replies."""
    if not keys:
        raise ToolkitError("no analyst key given")
    verified = verify_files(paths, verify_key, known=known)
    result = OpenResult(verify=verified)
    usable = _usable(verified, keys, result)
    result.entries = sum(len(d.entries) for d in usable)
    opener = _Opener(keys, result)
    with tqdm(
        total=result.entries,
        unit="entry",
        desc="opening",
        disable=None if progress else True,
        leave=False,
    ) as bar:
        for digest in usable:
            for i, envelope in enumerate(_entries(digest, verified.envelopes, result.notices)):
                bar.update(1)
                label = f"digest #{digest.seq} entry {i}"
                opener.take(envelope, {(digest.seq, digest.day)}, label, outer=True)
    opener.join()
    result.reports = _assemble(opener.records, opener.where, result)
    result.replies = read_posted(verified.replies, keys, result.notices, colleagues)
    return result


def _assemble(
    records: Mapping[RecordKey, ReportRecord],
    where: Mapping[RecordKey, Places],
    result: OpenResult,
) -> list[Report]:
    reports: dict[str, Report] = {}
    for (report_id, slot), record in records.items():
        rep = reports.setdefault(report_id, Report(report=report_id))
        rep.records[slot] = record
        for seq, day in where.get((report_id, slot), ()):
            rep.digests.add(seq)
            rep.days.add(day)
    for rep in reports.values():
        _follow_manifest(rep, result)
    ordered = sorted(reports.values(), key=lambda r: (min(r.digests, default=0), r.report))
    return _link_followups(ordered, result.notices)


def _newest_manifest(rep: Report) -> ManifestRecord | None:
    manifests = [r for r in rep.records.values() if isinstance(r, ManifestRecord)]
    return max(manifests, key=lambda m: m.head.slot) if manifests else None


def _follow_manifest(rep: Report, result: OpenResult) -> None:
    """A report's status, flow and answers as its newest manifest lists them (all of them
    while no manifest was seen); a later answer to a question replaces an earlier one."""
    manifest = _newest_manifest(rep)
    valid = set(manifest.slots) if manifest is not None else None
    if manifest is not None:
        rep.status = manifest.status
        rep.reply_key = manifest.reply_key
    head = (
        manifest.head
        if manifest is not None
        else next(r.head for r in rep.records.values() if r.head is not None)
    )
    rep.flow, rep.flow_version, rep.lang = head.flow, head.flow_version, head.lang
    by_question: dict[str, AnswerRecord] = {}
    for slot in sorted(rep.records):
        record = rep.records[slot]
        if isinstance(record, ManifestRecord):
            continue
        if isinstance(record, OtherRecord):
            rep.others.append(record)
        elif valid is not None and slot not in valid:
            result.superseded += 1
        else:
            _take_answer(rep, record, by_question, result)
    rep.answers = list(by_question.values())
    missing = valid - set(rep.records) if valid is not None else set()
    if missing:
        result.notices.append(
            f"report {rep.report}: {len(missing)} answer(s) listed by its manifest "
            "are in no digest given"
        )


def _take_answer(
    rep: Report,
    record: AnswerRecord | AttachmentRecord,
    by_question: dict[str, AnswerRecord],
    result: OpenResult,
) -> None:
    if (record.head.flow, record.head.flow_version) != (rep.flow, rep.flow_version):
        result.notices.append(
            f"report {rep.report} slot {record.head.slot}: from another flow version than the "
            "report"
        )
    if isinstance(record, AttachmentRecord):
        rep.attachments.append(record)
        return
    if record.question in by_question:
        result.superseded += 1
    by_question[record.question] = record  # a later slot replaces an earlier one


def _link_followups(reports: list[Report], notices: list[str]) -> list[Report]:
    """Attach each follow-up (its records name the report they add to) to that report.

    A follow-up whose report is in none of the digests given stays on its own, with ``follows``.
    """
    by_id = {r.report: r for r in reports}
    kept: list[Report] = []
    for rep in reports:
        targets = {str(o.fields.get("follows")) for o in rep.others if o.kind == FOLLOWUP_KIND}
        if len(targets) != 1:
            if targets:
                notices.append(f"report {rep.report}: follow-up records name several reports")
            kept.append(rep)
            continue
        rep.follows = targets.pop()
        target = by_id.get(rep.follows)
        if target is None or target.follows is not None:
            notices.append(
                f"follow-up {rep.report} adds to report {rep.follows}, which is in none of the "
                "digests given: shown on its own"
            )
            kept.append(rep)
            continue
        target.followups.append(rep)
    return kept
