"""The demo's round trip: the bot and an analyst on one machine, no Telegram.

``reportbot demo`` plays both sides, which the real deployment never does (the bot holds no key
that opens anything): :class:`RoundTripSink` seals every accepted answer with the bot's own code
(``handlers.reports.ReportWriter``) into the embedded database in a folder, and when the report
ends it closes a digest into ``<folder>/digests`` instead of posting it to a channel
(``bot.delivery.digests``), then opens that digest with a demo analyst key through the analysts'
toolkit and shows the report as an analyst sees it.

The folder holds, after a run::

    reports.sqlite3          the bot's database (sealed envelopes only)
    keys/bot.key, bot.pub    the bot's signing key (made on the first run)
    keys/demo-analyst.key    the demo analyst key, NOT passphrase-protected (demo only), and .pub
    digests/000001.bin       each digest, as it would be posted
    opened/                  what ``reportbot analyst open`` wrote from it

so that ``reportbot analyst open <folder>/digests --key <folder>/keys/demo-analyst.key --out X``
opens the same digests by hand (``bot.pub`` beside the key is found automatically).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, TypeVar

from bot.delivery.digests import DigestCloser, close_to_folder
from bot.delivery.flow_snapshots import FlowSnapshots
from bot.questionnaire.flow import AnswerValue, Flow, MediaKind
from bot.sealing import envelope as sealing
from bot.sealing.keys import (
    BOT_KEY_FILE,
    BOT_PUB_FILE,
    BotSigningKey,
    KeyFileError,
    Recipients,
    load_bot_signing_key,
    new_bot_key,
)
from bot.terminal.demo import DemoError, Outcome
from handlers.reports import ReportDraft, ReportWriter, media_refs
from reportbot_analyst.assembly import OpenResult, open_digests
from reportbot_analyst.catalog import FlowCatalog
from reportbot_analyst.keys import load_analyst_key, new_analyst_key, public_of_key_file
from reportbot_analyst.ledger import read_ledger
from reportbot_analyst.output import write_output
from reportbot_analyst.verifying import ToolkitError
from storage.base import ReportState
from storage.errors import StorageError
from storage.sqlite import SqliteReportStore

KEYS_DIR: Final = "keys"
DIGESTS_DIR: Final = "digests"
OPENED_DIR: Final = "opened"
ANALYST_NAME: Final = "demo-analyst"
DEMO_FILE: Final = b"(a file sent in the demo: the terminal has no real files)\n"

T = TypeVar("T")

_STATES: Final = {
    "finished": ReportState.COMPLETE,
    "ended_early": ReportState.COMPLETE,
    "cancelled": ReportState.INTERRUPTED,
    "interrupted": ReportState.INTERRUPTED,
}


@dataclass(frozen=True)
class DemoKeys:
    signing: BotSigningKey
    recipients: Recipients
    analyst_key: Path
    bot_pub: Path


def ensure_demo_keys(data_dir: Path) -> DemoKeys:
    """The demo's bot key and analyst key in ``<data_dir>/keys``, made on the first run."""
    keys_dir = data_dir / KEYS_DIR
    keys_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    analyst_key = keys_dir / f"{ANALYST_NAME}.key"
    if not analyst_key.exists():
        new_analyst_key(keys_dir, ANALYST_NAME, None)
    bot_key = keys_dir / BOT_KEY_FILE
    if not bot_key.exists():
        new_bot_key(keys_dir)
    return DemoKeys(
        signing=load_bot_signing_key(bot_key),
        recipients=Recipients([public_of_key_file(analyst_key)]),
        analyst_key=analyst_key,
        bot_pub=keys_dir / BOT_PUB_FILE,
    )


def open_as_analyst(
    paths: Sequence[Path], keys: DemoKeys, out_dir: Path, flow: Flow, lang: str
) -> OpenResult:
    """What ``reportbot analyst open`` does with the demo key: verify, open, write ``out_dir``."""
    key = load_analyst_key(keys.analyst_key, lambda: "")
    pinned = keys.signing.public
    known = read_ledger(out_dir, pinned) if out_dir.is_dir() else {}
    result = open_digests(list(paths), [key], pinned, known=known)
    write_output(result, out_dir, FlowCatalog([flow]), lang, pinned)
    return result


def describe_reports(result: OpenResult, flow: Flow, lang: str) -> list[str]:
    """The opened reports as lines, all in ``lang``: each question's prompt and the answer with
    its labels (the toolkit's own words, e.g. "yes" for a consent, from its vocabulary)."""
    from reportbot_analyst.rendering import render_answer
    from reportbot_analyst.vocabulary import WORDS, word

    def label(qid: str, cid: str) -> str:
        try:
            return flow.text(lang, f"{qid}.choice.{cid}")
        except KeyError:
            return f"[{cid}]"

    order = {q.id: i for i, q in enumerate(flow.questions)}
    lines: list[str] = []
    for rep in result.reports:
        status = word(rep.status, lang) if rep.status in WORDS else rep.status
        lines.append(
            f"{word('report', lang)} {rep.report} ({status}, {rep.lang}, {word('digests', lang)} "
            f"{', '.join(f'#{s}' for s in sorted(rep.digests))}):"
        )
        files = {a.ref: f"[📎 {a.media}, {len(a.data)} B, {a.metadata}]" for a in rep.attachments}
        for answer in sorted(rep.answers, key=lambda a: order.get(a.question, 10**6)):
            try:
                prompt = flow.text(lang, f"{answer.question}.prompt")
            except KeyError:
                prompt = answer.question
            prompt = " ".join(prompt.split())
            if len(prompt) > 70:
                prompt = prompt[:67] + "..."
            text = render_answer(answer.question, answer.answer, label, files, lang)
            lines.append(f"  {prompt}")
            lines.append("    -> " + text.replace("\n", "\n       "))
    return lines


class RoundTripError(DemoError):
    """The round trip cannot go on (a key, the database, the toolkit). One line."""


class RoundTripSink:
    """A ``bot.terminal.demo.ReportSink`` that seals into the database and ends with a round trip.

    Nothing is written until the first answer is kept: the keys, the database and the folders
    are made then. The terminal session is synchronous and the store is asyncio, so the sink
    keeps one event loop (``asyncio.Runner``) for the store's whole life; call :meth:`close`
    at the end.
    """

    def __init__(self, data_dir: Path, flow: Flow, lang: str) -> None:
        self.data_dir = data_dir
        self.flow = flow
        self.lang = lang
        self.draft: ReportDraft | None = None
        self.pending_files: dict[str, MediaKind] = {}
        self.opened: OpenResult | None = None
        self._keys: DemoKeys | None = None
        self._runner: asyncio.Runner | None = None
        self._store: SqliteReportStore | None = None
        self._writer: ReportWriter | None = None

    def _start(self) -> tuple[asyncio.Runner, SqliteReportStore, ReportWriter, DemoKeys]:
        if (
            self._runner is None
            or self._store is None
            or self._writer is None
            or self._keys is None
        ):
            try:
                keys = ensure_demo_keys(self.data_dir)
            except (KeyFileError, OSError) as exc:
                raise RoundTripError(f"demo keys in {self.data_dir}: {exc}") from None
            runner = asyncio.Runner()
            try:
                store = runner.run(SqliteReportStore.open(self.data_dir))
            except (StorageError, OSError) as exc:
                runner.close()
                raise RoundTripError(f"demo database in {self.data_dir}: {exc}") from None
            self._keys, self._runner, self._store = keys, runner, store
            self._writer = ReportWriter(store, keys.recipients, self.flow)
        return self._runner, self._store, self._writer, self._keys

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        runner, _, _, _ = self._start()
        try:
            return runner.run(coro)
        except StorageError as exc:
            raise RoundTripError(f"demo database: {exc}") from None

    def close(self) -> None:
        """Discard an unfinished report, close the store and the event loop."""
        if self._runner is None:
            return
        try:
            if self.draft is not None and self._writer is not None:
                # Left in the middle (Ctrl-C): like a quick exit, nothing is kept.
                self._runner.run(self._writer.discard(self.draft))
                self.draft = None
            if self._store is not None:
                self._runner.run(self._store.close())
        finally:
            self._runner.close()
            self._runner = None

    def _draft(self) -> ReportDraft:
        if self.draft is None:
            _, _, writer, _ = self._start()
            self.draft = self._run(writer.open(self.lang))
        return self.draft

    # -- ReportSink ----------------------------------------------------------------------------

    def attachment(self, kind: MediaKind) -> str:
        """The terminal has no files: a placeholder is sealed once the answer names its ref."""
        ref = secrets.token_hex(8)
        self.pending_files[ref] = kind
        return ref

    def accepted(self, qid: str, answer: AnswerValue) -> None:
        draft = self._draft()
        _, _, writer, _ = self._start()
        for ref in sorted(media_refs({qid: answer}) & set(self.pending_files)):
            self._run(self._seal_file(draft, qid, ref, self.pending_files.pop(ref)))
        self._run(writer.accept(draft, qid, answer))

    async def _seal_file(self, draft: ReportDraft, qid: str, ref: str, kind: MediaKind) -> None:
        _, store, _, keys = self._start()
        slot = draft.new_slot()
        envelope = sealing.seal_attachment(
            keys.recipients,
            sealing.ReportContext(draft.report_id, self.flow.id, self.flow.version, draft.lang),
            slot=slot,
            question=qid,
            ref=ref,
            media=kind,
            data=DEMO_FILE,
            mime="text/plain",
        )
        await store.put_attachment(draft.report_id, slot, envelope)
        draft.attachment_slots[ref] = slot

    def dropped(self, qid: str) -> None:
        if self.draft is not None:
            _, _, writer, _ = self._start()
            self._run(writer.drop(self.draft, qid))

    def closed(self, outcome: Outcome) -> list[str]:
        state = _STATES.get(outcome.kind)
        if outcome.kind == "ended_early" and not outcome.answers:
            state = None  # consent declined: nothing is kept, as in the bot
        if state is None:
            if self.draft is not None:
                _, _, writer, _ = self._start()
                self._run(writer.discard(self.draft))
            self.draft = None
            return ["", "[demo] nothing was kept, so no digest."]
        draft = self._draft()
        _, _, writer, _ = self._start()
        self._run(writer.close(draft, state, outcome.answers))
        self.draft = None
        return self.round_trip()

    # -- the round trip ----------------------------------------------------------------------

    def round_trip(self) -> list[str]:
        """Close a digest into the folder, open it with the demo analyst key, describe it."""
        _, store, _, keys = self._start()
        closer = DigestCloser(
            store,
            keys.signing,
            keys.recipients,
            clock=lambda: datetime.now(UTC),
            snapshots=FlowSnapshots(keys.recipients, [self.flow]),
        )
        paths = self._run(close_to_folder(closer, self.data_dir / DIGESTS_DIR))
        out_dir = self.data_dir / OPENED_DIR
        try:
            result = open_as_analyst(paths, keys, out_dir, self.flow, self.lang)
        except (ToolkitError, KeyFileError, OSError) as exc:
            raise RoundTripError(f"opening the demo digest: {exc}") from None
        self.opened = result
        return [
            "",
            f"[demo] sealed into {self.data_dir / 'reports.sqlite3'}",
            f"[demo] digest closed into {paths[0]} ({paths[0].stat().st_size} bytes, signed, "
            "padded); in the bot it would go to the analyst channel",
            f"[demo] the toolkit wrote {out_dir}; to open it yourself:",
            f"  reportbot analyst open {paths[0]} --key {keys.analyst_key} --out OUT",
            f"[demo] opened with the demo analyst key {keys.analyst_key}:",
            "",
            *describe_reports(result, self.flow, self.lang),
        ]
