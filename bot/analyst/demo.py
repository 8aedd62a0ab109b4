"""The demo's round trip: the bot and an analyst on one machine, no Telegram.

``reportbot demo`` plays both sides, which the real deployment never does (the bot holds no key
that opens anything): :class:`RoundTripSink` seals every accepted answer with the bot's own code
(``handlers.reports.ReportWriter``) into the embedded database in a folder, and when the report
ends it closes a digest into ``<folder>/digests`` instead of posting it to a channel
(``bot.digests``), then opens that digest with a demo analyst key through the analysts' toolkit
and shows the report as an analyst sees it.

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
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from bot import sealing
from bot.analyst.keys import load_analyst_key, new_analyst_key, public_of_key_file
from bot.analyst.toolkit import FlowCatalog, OpenResult, open_digests, read_ledger, write_output
from bot.digests import DigestCloser, close_to_folder
from bot.flow import AnswerValue, Flow, MediaKind
from bot.keys import (
    BOT_KEY_FILE,
    BOT_PUB_FILE,
    BotSigningKey,
    Recipients,
    load_bot_signing_key,
    new_bot_key,
)
from bot.terminal import Outcome
from handlers.reports import ReportDraft, ReportWriter, media_refs
from storage.base import ReportState
from storage.sqlite import SqliteReportStore

KEYS_DIR: Final = "keys"
DIGESTS_DIR: Final = "digests"
OPENED_DIR: Final = "opened"
ANALYST_NAME: Final = "demo-analyst"
DEMO_FILE: Final = b"(a file sent in the demo: the terminal has no real files)\n"

_STATES: Final = {
    "finished": ReportState.COMPLETE,
    "ended_early": ReportState.COMPLETE,
    "cancelled": ReportState.INTERRUPTED,
    "interrupted": ReportState.INTERRUPTED,
}


class RoundTripError(Exception):
    """The round trip cannot go on. ``str(exc)`` is one line."""


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
    """The opened reports as lines: each question's prompt and the answer with its labels."""
    from bot.analyst.toolkit import render_answer

    def label(qid: str, cid: str) -> str:
        try:
            return flow.text(lang, f"{qid}.choice.{cid}")
        except KeyError:
            return f"[{cid}]"

    order = {q.id: i for i, q in enumerate(flow.questions)}
    lines: list[str] = []
    for rep in result.reports:
        lines.append(
            f"report {rep.report} ({rep.status}, {rep.lang}, digest "
            f"{', '.join(f'#{s}' for s in sorted(rep.digests))}):"
        )
        files = {a.ref: f"[{a.media}: {len(a.data)} bytes, {a.metadata}]" for a in rep.attachments}
        for answer in sorted(rep.answers, key=lambda a: order.get(a.question, 10**6)):
            try:
                prompt = flow.text(lang, f"{answer.question}.prompt")
            except KeyError:
                prompt = answer.question
            prompt = " ".join(prompt.split())
            if len(prompt) > 70:
                prompt = prompt[:67] + "..."
            text = render_answer(answer.question, answer.answer, label, files)
            lines.append(f"  {prompt}")
            lines.append(f"    -> {text}")
    return lines


@dataclass
class RoundTripSink:
    """A ``bot.terminal.ReportSink`` that seals into the database and ends with a round trip.

    The terminal session is synchronous; the store is asyncio. The sink keeps one event loop
    (``asyncio.Runner``) for the store's whole life; call :meth:`close` at the end.
    """

    data_dir: Path
    flow: Flow
    lang: str
    keys: DemoKeys
    runner: asyncio.Runner
    store: SqliteReportStore
    writer: ReportWriter
    draft: ReportDraft | None = None
    pending_files: dict[str, MediaKind] = field(default_factory=dict)
    opened: OpenResult | None = None
    digest_files: list[Path] = field(default_factory=list)

    @classmethod
    def open(cls, data_dir: Path, flow: Flow, lang: str) -> RoundTripSink:
        keys = ensure_demo_keys(data_dir)
        runner = asyncio.Runner()
        try:
            store = runner.run(SqliteReportStore.open(data_dir))
        except BaseException:
            runner.close()
            raise
        writer = ReportWriter(store, keys.recipients, flow)
        return cls(data_dir, flow, lang, keys, runner, store, writer)

    def close(self) -> None:
        try:
            self.runner.run(self.store.close())
        finally:
            self.runner.close()

    def _draft(self) -> ReportDraft:
        if self.draft is None:
            self.draft = self.runner.run(self.writer.open(self.lang))
        return self.draft

    # -- ReportSink ----------------------------------------------------------------------------

    def attachment(self, kind: MediaKind) -> str:
        """The terminal has no files: a placeholder is sealed once the answer names its ref."""
        ref = secrets.token_hex(8)
        self.pending_files[ref] = kind
        return ref

    def accepted(self, qid: str, answer: AnswerValue) -> None:
        draft = self._draft()
        for ref in sorted(media_refs({qid: answer}) & set(self.pending_files)):
            self.runner.run(self._seal_file(draft, qid, ref, self.pending_files.pop(ref)))
        self.runner.run(self.writer.accept(draft, qid, answer))

    async def _seal_file(self, draft: ReportDraft, qid: str, ref: str, kind: MediaKind) -> None:
        slot = draft.new_slot()
        envelope = sealing.seal_attachment(
            self.keys.recipients,
            sealing.ReportContext(draft.report_id, self.flow.id, self.flow.version, draft.lang),
            slot=slot,
            question=qid,
            ref=ref,
            media=kind,
            data=DEMO_FILE,
            mime="text/plain",
        )
        await self.store.put_attachment(draft.report_id, slot, envelope)
        draft.attachment_slots[ref] = slot

    def dropped(self, qid: str) -> None:
        if self.draft is not None:
            self.runner.run(self.writer.drop(self.draft, qid))

    def closed(self, outcome: Outcome) -> list[str]:
        state = _STATES.get(outcome.kind)
        if outcome.kind == "ended_early" and not outcome.answers:
            state = None  # consent declined: nothing is kept, as in the bot
        if state is None:
            if self.draft is not None:
                self.runner.run(self.writer.discard(self.draft))
            self.draft = None
            return ["", "[demo] nothing was kept; no digest."]
        draft = self._draft()
        self.runner.run(self.writer.close(draft, state, outcome.answers))
        self.draft = None
        return self.round_trip()

    # -- the round trip ----------------------------------------------------------------------

    def round_trip(self) -> list[str]:
        """Close a digest into the folder, open it with the demo analyst key, describe it."""
        closer = DigestCloser(
            self.store,
            self.keys.signing,
            self.keys.recipients,
            clock=lambda: datetime.now(UTC),
        )
        paths = self.runner.run(close_to_folder(closer, self.data_dir / DIGESTS_DIR))
        self.digest_files = paths
        out_dir = self.data_dir / OPENED_DIR
        result = open_as_analyst(paths, self.keys, out_dir, self.flow, self.lang)
        self.opened = result
        return [
            "",
            f"[demo] sealed into {self.data_dir / 'reports.sqlite3'}",
            f"[demo] digest closed into {paths[0]} ({paths[0].stat().st_size} bytes, signed, "
            "padded); in the bot it would go to the analyst channel",
            f"[demo] opened with the demo analyst key {self.keys.analyst_key}:",
            "",
            *describe_reports(result, self.flow, self.lang),
            "",
            f"[demo] the toolkit wrote {out_dir}; to open it yourself:",
            f"  reportbot analyst open {paths[0]} --key {self.keys.analyst_key} --out OUT",
        ]
