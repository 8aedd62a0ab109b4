"""The analysts' toolkit: verify digests, open them, reassemble reports, write JSONL and CSV.

Used by ``reportbot analyst open`` and ``reportbot analyst verify``. Every digest is checked
against the pinned bot key before anything in it is used; a file that fails is rejected with
one line and nothing from it is read. Duplicates (the same digest twice, the same record twice)
are dropped, conflicting copies are refused, and gaps in the sequence are named.

The output folder holds decrypted reports: it is created with mode 0700, files with 0600.
``ledger.json`` in it remembers which digest (sequence number and hash) was opened there, so a
later run notices a digest posted again or a different digest under a number already seen.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import os
import stat
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Final, Literal

from tqdm import tqdm

from bot.questionnaire.flow import Flow, Kind, Question
from bot.sealing.envelope import (
    DIGEST_MAGIC,
    ENVELOPE_MAGIC,
    MAX_DIGEST_BYTES,
    Digest,
    ExternalEntry,
    FormatError,
    blob_hash,
    verify_digest,
)
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
    ReportRecord,
    open_envelope,
    read_record,
)

OTHER: Final = "other"
"""Choice id of the "other: please write" button (``bot.questionnaire.engine.OTHER``)."""

LEDGER_FILE: Final = "ledger.json"
REPORTS_JSONL: Final = "reports.jsonl"
ATTACHMENTS_DIR: Final = "attachments"

_EXTENSIONS: Final = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "image/heic": ".heic",
    "audio/ogg": ".ogg",
    "audio/mpeg": ".mp3",
    "audio/mp4": ".m4a",
    "audio/x-m4a": ".m4a",
    "audio/aac": ".aac",
    "audio/amr": ".amr",
    "video/mp4": ".mp4",
    "video/quicktime": ".mov",
    "video/3gpp": ".3gp",
    "application/pdf": ".pdf",
    "text/plain": ".txt",
}


class ToolkitError(Exception):
    """A problem that stops the whole run. ``str(exc)`` is one line."""


class NothingToOpenError(ToolkitError):
    """No digest could be used; ``verify`` says why for each file."""

    def __init__(self, message: str, verify: VerifyResult) -> None:
        super().__init__(message)
        self.verify = verify


# --------------------------------------------------------------------------------------------
# Reading and verifying files
# --------------------------------------------------------------------------------------------

Status = Literal["ok", "duplicate", "seen", "rejected", "conflict", "envelope", "other"]
"""``seen``: opened into this workspace before (skipped silently); ``conflict``: a different
digest under a number already seen, the one loud alarm; ``other``: a file of the channel that is
no digest (an analyst's reply, a setup challenge), skipped."""

REPLY_MAGIC: Final = b"RBRP"  # docs/format.md §5.2: analysts' replies are posted in the channel


@dataclass
class FileOutcome:
    path: Path
    status: Status
    message: str = ""
    digest: Digest | None = None


@dataclass
class VerifyResult:
    outcomes: list[FileOutcome] = field(default_factory=list)
    envelopes: dict[bytes, bytes] = field(default_factory=dict)  # blob hash -> envelope file
    notices: list[str] = field(default_factory=list)
    missing: list[tuple[int, int]] = field(default_factory=list)

    @property
    def accepted(self) -> list[Digest]:
        return sorted(
            (o.digest for o in self.outcomes if o.status == "ok" and o.digest is not None),
            key=lambda d: d.seq,
        )

    @property
    def rejected(self) -> list[FileOutcome]:
        """Files not used because they are bad or conflict (conflicts included)."""
        return [o for o in self.outcomes if o.status in ("rejected", "conflict")]

    @property
    def conflicts(self) -> list[FileOutcome]:
        return [o for o in self.outcomes if o.status == "conflict"]

    @property
    def seen(self) -> list[FileOutcome]:
        return [o for o in self.outcomes if o.status == "seen"]

    @property
    def duplicates(self) -> list[FileOutcome]:
        return [o for o in self.outcomes if o.status == "duplicate"]


def _ranges(numbers: Iterable[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for n in sorted(numbers):
        if out and out[-1][1] == n - 1:
            out[-1] = (out[-1][0], n)
        else:
            out.append((n, n))
    return out


def format_ranges(ranges: Sequence[tuple[int, int]]) -> str:
    return ", ".join(f"#{a}" if a == b else f"#{a}-#{b}" for a, b in ranges)


def _read_file(path: Path) -> bytes:
    try:
        st = path.stat()
    except FileNotFoundError:
        raise FormatError("no such file") from None
    except OSError as exc:
        raise FormatError(f"cannot read ({exc.strerror})") from None
    if not stat.S_ISREG(st.st_mode):
        raise FormatError("not a regular file")
    if st.st_size > MAX_DIGEST_BYTES:
        raise FormatError("too large to be a reportbot digest")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise FormatError(f"cannot read ({exc.strerror})") from None


def verify_files(
    paths: Sequence[Path],
    verify_key: BotVerifyKey,
    *,
    known: Mapping[int, bytes] | None = None,
) -> VerifyResult:
    """Check every file's signature and the sequence; nothing is decrypted.

    ``known`` maps sequence numbers opened earlier (the ledger) to their digest hashes.
    """
    known = dict(known or {})
    result = VerifyResult()
    by_hash: dict[bytes, Path] = {}
    by_seq: dict[int, tuple[bytes, Path]] = {}
    for path in paths:
        try:
            data = _read_file(path)
            if data[:4] == REPLY_MAGIC:
                result.outcomes.append(FileOutcome(path, "other", "an analyst's reply"))
                continue
            if data[:4] == ENVELOPE_MAGIC:
                result.envelopes[blob_hash(data)] = data
                result.outcomes.append(FileOutcome(path, "envelope", "attachment envelope"))
                continue
            if data[:4] != DIGEST_MAGIC and len(data) >= 4:
                raise FormatError("not a reportbot digest (bad magic)")
            digest = verify_digest(data, verify_key)
        except FormatError as exc:
            result.outcomes.append(FileOutcome(path, "rejected", str(exc)))
            continue
        if digest.digest_hash in by_hash:
            result.outcomes.append(
                FileOutcome(
                    path,
                    "duplicate",
                    f"digest #{digest.seq} again (same as {by_hash[digest.digest_hash]}): dropped",
                    digest,
                )
            )
            continue
        earlier = known.get(digest.seq)
        if digest.seq in by_seq or (earlier is not None and earlier != digest.digest_hash):
            where = by_seq[digest.seq][1] if digest.seq in by_seq else "this workspace"
            result.outcomes.append(
                FileOutcome(
                    path,
                    "conflict",
                    f"ALARM: a different digest #{digest.seq} is already in {where}: two digests "
                    "under one number (replayed or forged); this one is not used. Tell the "
                    "operator and compare the files",
                    digest,
                )
            )
            continue
        if earlier is not None:
            by_hash[digest.digest_hash] = path
            result.outcomes.append(
                FileOutcome(path, "seen", f"digest #{digest.seq}: already in the workspace", digest)
            )
            continue
        by_hash[digest.digest_hash] = path
        by_seq[digest.seq] = (digest.digest_hash, path)
        result.outcomes.append(
            FileOutcome(path, "ok", f"digest #{digest.seq} of {digest.day.isoformat()}", digest)
        )
    seen = set(by_seq) | set(known)
    if seen:
        result.missing = _ranges(n for n in range(1, max(seen) + 1) if n not in seen)
    accepted = result.accepted
    for before, after in itertools.pairwise(accepted):
        if after.day < before.day:
            result.notices.append(
                f"digest #{after.seq} is dated {after.day}, before #{before.seq} "
                f"({before.day}): days out of order"
            )
    return result


# --------------------------------------------------------------------------------------------
# Flows: labels from the exact version a reporter saw
# --------------------------------------------------------------------------------------------


class FlowCatalog:
    """Flows by (id, version). A version not here means: raw ids, never a guessed label."""

    def __init__(self, flows: Iterable[Flow] = ()) -> None:
        self._flows: dict[tuple[str, str], Flow] = {}
        for flow in flows:
            self._flows[(flow.id, flow.version)] = flow

    def get(self, flow_id: str, version: str) -> Flow | None:
        return self._flows.get((flow_id, version))

    def add(self, flow: Flow) -> None:
        self._flows.setdefault((flow.id, flow.version), flow)

    def __iter__(self) -> Iterator[Flow]:
        return iter(sorted(self._flows.values(), key=lambda f: (f.id, f.version)))

    def __len__(self) -> int:
        return len(self._flows)

    @classmethod
    def load(cls, paths: Sequence[Path], locales_dir: Path | None) -> tuple[FlowCatalog, list[str]]:
        """Flows from files or folders of ``*.yaml``; problems come back as lines, not errors."""
        # Imported here: only labelling needs the YAML loader.
        from bot.questionnaire.loader import FlowLoadError, default_locales_dir, load_flow

        flows: list[Flow] = []
        problems: list[str] = []
        files: list[Path] = []
        for path in paths:
            if path.is_dir():
                files += sorted(path.glob("*.yaml"))
            elif path.is_file():
                files.append(path)
            else:
                problems.append(f"{path}: no such flow file or folder")
        for file in files:
            locales = locales_dir if locales_dir is not None else default_locales_dir(file)
            try:
                flows.append(load_flow(file, locales))
            except FlowLoadError as exc:
                first = exc.problems[0] if exc.problems else "unreadable"
                problems.append(f"{file}: flow not loaded ({first})")
        return cls(flows), problems


def shipped_flows_dir() -> Path | None:
    """``flows/`` of this checkout, if the toolkit runs from one."""
    candidate = Path(__file__).resolve().parents[2] / "flows"
    return candidate if candidate.is_dir() else None


# --------------------------------------------------------------------------------------------
# Reassembling reports
# --------------------------------------------------------------------------------------------


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
    documents: list[dict[str, Any]] = field(default_factory=list)  # reports.jsonl, as written


def _record_key(record: ReportRecord) -> tuple[str, int] | None:
    head = record.head
    return None if head is None else (head.report, head.slot)


def _same(a: ReportRecord, b: ReportRecord) -> bool:
    return a == b


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


# C901 (19): issue 16 splits toolkit.py now (the analyst engineer); that split by intent takes
# this apart (read the digests, join the carriers, open the entries).
def open_digests(  # noqa: C901
    paths: Sequence[Path],
    keys: Sequence[AnalystSecretKey],
    verify_key: BotVerifyKey,
    *,
    known: Mapping[int, bytes] | None = None,
    progress: bool = False,
) -> OpenResult:
    """Verify, open and reassemble. Raises :class:`ToolkitError` when nothing can be opened."""
    if not keys:
        raise ToolkitError("no analyst key given")
    verified = verify_files(paths, verify_key, known=known)
    result = OpenResult(verify=verified)
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
    records: dict[tuple[str, int], ReportRecord] = {}
    where: dict[tuple[str, int], set[tuple[int, date]]] = {}
    total = sum(len(d.entries) for d in usable)
    result.entries = total
    reassembly = Reassembly()

    def take(envelope: bytes, places: set[tuple[int, date]], label: str, outer: bool) -> None:
        try:
            opened = open_envelope(envelope, keys)
            record = read_record(opened)
        except NotSealedToKeyError:
            result.not_for_key += 1
            return
        except (DamagedError, FormatError) as exc:
            result.notices.append(f"{label}: not used: {exc}")
            return
        result.opened += 1
        if record is None:
            result.dummies += 1
            return
        if isinstance(record, CarrierRecord):
            if outer:  # parts of envelopes (fixed-size digests): put together below
                (seq, day) = next(iter(places))
                reassembly.add(record.parts, seq, day)
            else:
                result.notices.append(f"{label}: a carrier inside a carrier: not used")
            return
        if isinstance(record, FlowRecord):
            result.flows.setdefault((record.flow, record.flow_version), record)
            return
        key = _record_key(record)
        if key is None:
            result.notices.append(
                f"{label}: a record of an unknown kind without a report: not used"
            )
            return
        where.setdefault(key, set()).update(places)
        if key in records:
            if _same(records[key], record):
                result.duplicate_records += 1
            else:
                result.notices.append(
                    f"{label}: report {key[0]} slot {key[1]} "
                    "differs from an earlier copy: the first copy is kept"
                )
            return
        records[key] = record

    with tqdm(
        total=total, unit="entry", desc="opening", disable=None if progress else True, leave=False
    ) as bar:
        for digest in usable:
            for i, envelope in enumerate(_entries(digest, verified.envelopes, result.notices)):
                bar.update(1)
                take(envelope, {(digest.seq, digest.day)}, f"digest #{digest.seq} entry {i}", True)
    for envelope, places in reassembly.complete():
        seqs = ", ".join(f"#{s}" for s, _ in sorted(places))
        take(envelope, places, f"an envelope carried in digest {seqs}", False)
    result.notices += reassembly.incomplete()
    result.reports = _assemble(records, where, result)
    return result


def _assemble(
    records: Mapping[tuple[str, int], ReportRecord],
    where: Mapping[tuple[str, int], set[tuple[int, date]]],
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
        manifests = [r for r in rep.records.values() if isinstance(r, ManifestRecord)]
        manifest = max(manifests, key=lambda m: m.head.slot) if manifests else None
        valid = set(manifest.slots) if manifest is not None else None
        if manifest is not None:
            rep.status = manifest.status
            rep.reply_key = manifest.reply_key
        first_head = (
            manifest.head
            if manifest is not None
            else next(r.head for r in rep.records.values() if r.head is not None)
        )
        rep.flow, rep.flow_version, rep.lang = (
            first_head.flow,
            first_head.flow_version,
            first_head.lang,
        )
        by_question: dict[str, AnswerRecord] = {}
        for slot in sorted(rep.records):
            record = rep.records[slot]
            if isinstance(record, ManifestRecord):
                continue
            if isinstance(record, OtherRecord):
                rep.others.append(record)
                continue
            if valid is not None and slot not in valid:
                result.superseded += 1
                continue
            if (record.head.flow, record.head.flow_version) != (rep.flow, rep.flow_version):
                result.notices.append(
                    f"report {rep.report} slot {slot}: from another flow version than the report"
                )
            if isinstance(record, AnswerRecord):
                if record.question in by_question:
                    result.superseded += 1
                by_question[record.question] = record  # a later slot replaces an earlier one
            else:
                rep.attachments.append(record)
        rep.answers = list(by_question.values())
        if valid is not None:
            missing = valid - set(rep.records)
            if missing:
                result.notices.append(
                    f"report {rep.report}: {len(missing)} answer(s) listed by its manifest "
                    "are in no digest given"
                )
    ordered = sorted(reports.values(), key=lambda r: (min(r.digests, default=0), r.report))
    return _link_followups(ordered, result.notices)


FOLLOWUP_KIND: Final = "followup"


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


# --------------------------------------------------------------------------------------------
# Rendering answers
# --------------------------------------------------------------------------------------------

LabelFn = Callable[[str, str], str]  # (question id, choice id) -> label


def _labeller(flow: Flow | None, lang: str) -> LabelFn:
    def label(qid: str, cid: str) -> str:
        if flow is None:
            return cid
        try:
            return flow.text(lang, f"{qid}.choice.{cid}")
        except KeyError:
            return f"[{cid}]"  # an id the flow does not have: shown raw, never guessed

    return label


def render_answer(
    qid: str,
    answer: Mapping[str, object],
    label: LabelFn,
    files: Mapping[str, str],
    lang: str = "en",
) -> str:
    """One cell: labels for choices, the text as written, numbers and dates plainly; the few
    words the toolkit adds in ``lang``."""
    from reportbot_analyst.vocabulary import word

    parts: list[str] = []
    text = answer.get("text")
    text_used = False
    chosen: list[object] = []
    if "choice" in answer:
        chosen.append(answer["choice"])
    many = answer.get("choices")
    if isinstance(many, list):
        chosen += many
    for cid in chosen:
        name = label(qid, str(cid))
        if cid == OTHER and isinstance(text, str):
            parts.append(f"{word('other', lang) if name == f'[{OTHER}]' else name}: {text}")
            text_used = True
        else:
            parts.append(name)
    if isinstance(text, str) and not text_used:
        parts.append(text)
    if "number" in answer:
        parts.append(str(answer["number"]))
    if answer.get("unknown") is True:
        parts.append(word("unknown", lang))
    if "year" in answer:
        month = answer.get("month")
        has_month = isinstance(month, int) and not isinstance(month, bool)
        parts.append(f"{answer['year']}-{month:02d}" if has_month else str(answer["year"]))
    if "consent" in answer:
        parts.append(word("yes", lang) if answer["consent"] is True else word("no", lang))
    media = answer.get("media")
    if isinstance(media, list):
        for item in media:
            ref = item.get("ref") if isinstance(item, dict) else None
            parts.append(files.get(str(ref), f"[{word('missing_attachment', lang)}: {ref}]"))
    if not parts:
        parts.append(json.dumps(answer, ensure_ascii=False, sort_keys=True))
    return "; ".join(parts)


def _renderer(
    label: LabelFn, files: Mapping[str, str], lang: str
) -> Callable[[str, Mapping[str, object]], str]:
    def render(qid: str, answer: Mapping[str, object]) -> str:
        return render_answer(qid, answer, label, files, lang)

    return render


# --------------------------------------------------------------------------------------------
# Writing the output folder
# --------------------------------------------------------------------------------------------


def private_dir(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        path.chmod(0o700)


def write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        os.fchmod(fd, 0o600)
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
    finally:
        os.close(fd)


def read_ledger(out_dir: Path, verify_key: BotVerifyKey) -> dict[int, bytes]:
    """Sequence numbers and digest hashes opened into ``out_dir`` before, for this bot key."""
    path = out_dir / LEDGER_FILE
    if not path.exists():
        return {}
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        entries = doc["bots"].get(verify_key.key_id.hex(), {})
        return {int(seq): bytes.fromhex(h) for seq, h in entries.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        raise ToolkitError(f"{path}: ledger unreadable; move it away to start afresh") from None


def write_ledger(out_dir: Path, verify_key: BotVerifyKey, digests: Iterable[Digest]) -> Path:
    path = out_dir / LEDGER_FILE
    doc: dict[str, dict[str, dict[str, str]]] = {"bots": {}}
    if path.exists():
        with contextlib.suppress(OSError, ValueError):
            loaded = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(loaded, dict) and isinstance(loaded.get("bots"), dict):
                doc = loaded
    mine = doc["bots"].setdefault(verify_key.key_id.hex(), {})
    for d in digests:
        mine[str(d.seq)] = d.digest_hash.hex()
    write_private(path, (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode("utf-8"))
    return path


def write_output(
    result: OpenResult,
    out_dir: Path,
    catalog: FlowCatalog,
    lang: str,
    verify_key: BotVerifyKey,
) -> None:
    """Write ``reports.jsonl``, one ``reports-<flow>.csv`` per flow, attachments, the ledger."""
    private_dir(out_dir)
    keep_flows(result, out_dir, catalog)
    attach_root = out_dir / ATTACHMENTS_DIR
    if any(rep.attachments for rep in result.reports):
        private_dir(attach_root)
    # Imported here: only writing needs them.
    from reportbot_analyst.exports import write_tables
    from reportbot_analyst.tables import RowSource, build_tables

    jsonl = io.StringIO()
    sources: list[RowSource] = []
    unknown_versions: set[tuple[str, str]] = set()
    for rep in result.reports:
        flow = catalog.get(rep.flow, rep.flow_version)
        if flow is None:
            unknown_versions.add((rep.flow, rep.flow_version))
        label = _labeller(flow, lang)
        files, attachments = _write_attachments(rep, out_dir, result)
        followups = [_followup_doc(f, out_dir, result) for f in rep.followups]
        order = _question_order(flow, rep)
        answers = []
        cells: dict[str, str] = {}
        for ans in sorted(rep.answers, key=lambda a: order.get(a.question, 10**6)):
            text = render_answer(ans.question, ans.answer, label, files, lang)
            cells[ans.question] = text
            answers.append(
                {
                    "question": ans.question,
                    "slot": ans.head.slot,
                    "answer": dict(ans.answer),
                    "text": text,
                }
            )
        labels_note = (
            lang
            if flow is not None
            else f"raw ids: flow {rep.flow} version {rep.flow_version} not available"
        )
        doc = {
            "report": rep.report,
            "status": rep.status,
            "flow": rep.flow,
            "flow_version": rep.flow_version,
            "lang": rep.lang,
            "labels": labels_note,
            "digests": sorted(rep.digests),
            "days": sorted(d.isoformat() for d in rep.days),
            "answers": answers,
            "attachments": attachments,
            "other_records": [dict(o.fields) for o in rep.others if o.kind != FOLLOWUP_KIND],
            "reply_key": rep.reply_key,
            "followups": followups,
            "follows": rep.follows,  # a follow-up whose report is not among the digests given
            "items": _followup_items(rep, files) if rep.follows else [],
        }
        jsonl.write(json.dumps(doc, ensure_ascii=False, sort_keys=True) + "\n")
        result.documents.append(doc)
        sources.append(
            RowSource(
                report=rep.report,
                flow=rep.flow,
                flow_version=rep.flow_version,
                lang=rep.lang,
                status=rep.status,
                days=sorted(rep.days),
                digests=sorted(rep.digests),
                answers={a.question: a.answer for a in rep.answers},
                files=files,
                followups=" | ".join(
                    item["text"] for f in followups for item in f["items"] if item["text"]
                ),
                render=_renderer(label, files, lang),
                label=label,
            )
        )
    target = out_dir / REPORTS_JSONL
    write_private(target, jsonl.getvalue().encode("utf-8"))
    result.files_written.append(target)
    tables = build_tables(sources, catalog.get, lang)
    result.files_written += write_tables(tables, out_dir, lang, write_private)
    for flow_id, version in sorted(unknown_versions):
        result.notices.append(
            f"flow {flow_id} version {version} is not among the flows given: "
            "its reports show raw ids (no digest given carried it; pass --flows with that "
            "version for labels)"
        )
    write_ledger(out_dir, verify_key, result.verify.accepted)


def keep_flows(result: OpenResult, out_dir: Path, catalog: FlowCatalog) -> None:
    """Check the flow snapshots the digests carried, label with them, keep them in ``out_dir``."""
    from reportbot_analyst.flows import SnapshotError, flow_from_snapshot, snapshot_file

    for (flow_id, version), record in sorted(result.flows.items()):
        try:
            flow = flow_from_snapshot(flow_id, version, record.document)
        except SnapshotError as exc:
            result.notices.append(f"{exc}: not used")
            continue
        catalog.add(flow)
        target = snapshot_file(out_dir, flow_id, version)
        if not target.exists():
            private_dir(target.parent)
            write_private(target, record.document)


def _write_attachments(
    rep: Report, out_dir: Path, result: OpenResult
) -> tuple[dict[str, str], list[dict[str, object]]]:
    """Write a report's attachments; (ref -> relative path, their JSON descriptions)."""
    files: dict[str, str] = {}
    attachments: list[dict[str, object]] = []
    for att in rep.attachments:
        folder = out_dir / ATTACHMENTS_DIR / rep.report
        private_dir(folder)
        ext = _EXTENSIONS.get(att.mime, ".bin")
        target = folder / f"{att.head.slot:05d}-{att.ref}{ext}"
        write_private(target, att.data)
        result.files_written.append(target)
        rel = target.relative_to(out_dir).as_posix()
        files[att.ref] = rel
        attachments.append(
            {
                "question": att.question,
                "slot": att.head.slot,
                "ref": att.ref,
                "media": att.media,
                "mime": att.mime,
                "size": len(att.data),
                "metadata": att.metadata,
                "file": rel,
            }
        )
    return files, attachments


def _followup_doc(f: Report, out_dir: Path, result: OpenResult) -> dict[str, Any]:
    """A follow-up as part of the report it adds to: what was added, in order, and its files."""
    files, attachments = _write_attachments(f, out_dir, result)
    return {
        "report": f.report,
        "status": f.status,
        "lang": f.lang,
        "digests": sorted(f.digests),
        "days": sorted(d.isoformat() for d in f.days),
        "items": _followup_items(f, files),
        "attachments": attachments,
    }


def _followup_items(f: Report, files: Mapping[str, str]) -> list[dict[str, Any]]:
    """What a follow-up added (texts, files), in the order it was sent."""
    items: list[dict[str, Any]] = []

    def order(o: OtherRecord) -> tuple[int, int]:
        n = o.fields.get("n")
        return (
            n if isinstance(n, int) and not isinstance(n, bool) else 0,
            o.head.slot if o.head is not None else -1,
        )

    for other in sorted(f.others, key=order):
        content = other.fields.get("content")
        if other.kind != FOLLOWUP_KIND or not isinstance(content, dict):
            continue
        items.append(
            {
                "n": other.fields.get("n"),
                "slot": other.head.slot if other.head is not None else None,
                "content": content,
                "text": render_answer(FOLLOWUP_KIND, content, lambda _q, cid: cid, files),
            }
        )
    return items


def _question_order(flow: Flow | None, rep: Report) -> dict[str, int]:
    if flow is not None:
        return {q.id: i for i, q in enumerate(flow.questions) if _has_answer(q)}
    return {a.question: a.head.slot for a in rep.answers}


def _has_answer(q: Question) -> bool:
    return q.kind is not Kind.INFO
