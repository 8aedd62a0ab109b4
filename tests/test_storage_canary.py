"""Canary: nothing readable about a reporter or an answer reaches any file under the data dir,
and what is deleted is gone from every file.

A full report whose answers, Telegram id, username and names are unique marker strings is sealed
by the real ``bot.sealing.envelope`` and stored by the real SQLite store. Afterwards no marker
appears in any file under the data directory (database, journal, anything else) in UTF-8, UTF-16
LE/BE, hex or base64; an analyst key still opens every stored envelope and finds the markers (so
the test is not passing on an empty database). Then the ciphertext of a discarded report, of a
replaced answer, of a dropped branch and of a report removed by retention is gone from every file
too.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable
from pathlib import Path

import pytest

from bot.questionnaire.flow import MediaKind
from bot.sealing.envelope import (
    ReportContext,
    ReportStatus,
    seal_answer,
    seal_attachment,
    seal_manifest,
)
from bot.sealing.keys import Recipients
from reportbot_analyst.keys import AnalystSecretKey
from reportbot_analyst.opening import open_envelope
from storage import ReportId, ReportState, RetentionPolicy, SqliteReportStore, run_retention
from storage.schema import DB_FILENAME
from tests.proof_support import report
from tests.storage_support import FakeDay, files_under, find_leaks

FLOW_VERSION = "0123456789abcdef"


def _marker(what: str) -> str:
    return f"CANARY-{what}-{secrets.token_hex(6)}"


def _chunks(blob: bytes, size: int = 24) -> list[bytes]:
    """Non-overlapping pieces covering ``blob``: any one of them in a file is a remnant."""
    return [blob[i : i + size] for i in range(0, len(blob) - size + 1, size)]


def _remnants(root: Path, blobs: Iterable[bytes]) -> list[str]:
    found = []
    contents = {p.name: p.read_bytes() for p in files_under(root)}
    for blob in blobs:
        for name, content in contents.items():
            if any(chunk in content for chunk in _chunks(blob)):
                found.append(f"{name}: {blob[:8].hex()}...")
    return found


class _Reporter:
    """Seals like the bot does, for one report."""

    def __init__(self, recipients: Recipients, report_id: ReportId, lang: str = "ko") -> None:
        self.recipients = recipients
        self.context = ReportContext(
            report_id=report_id, flow_id="canary", flow_version=FLOW_VERSION, lang=lang
        )

    def answer(self, slot: int, question: str, text: str) -> bytes:
        return seal_answer(
            self.recipients, self.context, slot=slot, question=question, answer={"text": text}
        )

    def manifest(self, slot: int, slots: Iterable[int]) -> bytes:
        return seal_manifest(
            self.recipients,
            self.context,
            slot=slot,
            status=ReportStatus.COMPLETE,
            slots=slots,
        )


async def test_no_reporter_text_or_identity_reaches_any_file_and_deleted_bytes_are_gone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    analyst = AnalystSecretKey.generate()
    recipients = Recipients([analyst.public])
    day = FakeDay()
    data_dir = tmp_path / "data"

    telegram_id = 7_000_000_000 + secrets.randbelow(10**9)
    identity = {
        "telegram_id": str(telegram_id),
        "username": _marker("username"),
        "first_name": _marker("이름"),
        "last_name": _marker("Фамилия"),
    }
    answers = {
        "employer": _marker("로동-employer"),
        "place": _marker("Владивосток"),
        "what_happened": _marker("녀성-손전화-taken"),
        "contact": f"{identity['first_name']} {identity['last_name']} @{identity['username']} "
        f"id {identity['telegram_id']}",
    }
    attachment_marker = _marker("photo-body")
    markers: list[str | bytes] = [*identity.values(), *answers.values(), attachment_marker]
    # the numeric id as the 8-byte integers a careless writer could have stored
    markers += [telegram_id.to_bytes(8, "little"), telegram_id.to_bytes(8, "big")]

    deleted_ciphertexts: list[bytes] = []
    async with await SqliteReportStore.open(data_dir, clock=day) as store:
        # -- the full report, kept --------------------------------------------------------
        kept_id = await store.open_report()
        reporter = _Reporter(recipients, kept_id)
        slots = {qid: 100 + n for n, qid in enumerate(answers)}
        first_try = reporter.answer(slots["place"], "place", _marker("first-try"))
        await store.put_answer(kept_id, slots["place"], first_try)
        deleted_ciphertexts.append(first_try)  # replaced below
        for qid, text in answers.items():
            await store.put_answer(kept_id, slots[qid], reporter.answer(slots[qid], qid, text))
        dropped = reporter.answer(7, "dropped_branch", _marker("branch-not-taken"))
        await store.put_answer(kept_id, 7, dropped)
        assert await store.delete_answer(kept_id, 7)
        deleted_ciphertexts.append(dropped)
        photo = seal_attachment(
            recipients,
            reporter.context,
            slot=300,
            question="evidence",
            ref="p1",
            media=MediaKind.DOCUMENT,
            data=(attachment_marker.encode() + b"\n") * 4000,
            mime="application/octet-stream",
        )
        await store.put_attachment(kept_id, 300, photo)
        await store.close_report(
            kept_id, ReportState.COMPLETE, reporter.manifest(999, slots.values())
        )
        await store.put_receipt(secrets.token_bytes(32), kept_id)

        # -- a report the reporter discards -----------------------------------------------
        discarded_id = await store.open_report()
        gone = _Reporter(recipients, discarded_id, lang="ru")
        for n in range(5):
            envelope = gone.answer(n, "what_happened", _marker(f"discarded-{n}") * 20)
            await store.put_answer(discarded_id, n, envelope)
            deleted_ciphertexts.append(envelope)
        big = seal_attachment(
            recipients,
            gone.context,
            slot=50,
            question="evidence",
            ref="p2",
            media=MediaKind.VOICE,
            data=secrets.token_bytes(200_000),
            mime="audio/ogg",
        )
        await store.put_attachment(discarded_id, 50, big)
        deleted_ciphertexts.append(big)

        # -- a report delivered, then removed by retention ----------------------------------
        delivered_id = await store.open_report()
        sent = _Reporter(recipients, delivered_id)
        delivered_answer = sent.answer(1, "employer", _marker("delivered"))
        await store.put_answer(delivered_id, 1, delivered_answer)
        delivered_manifest = sent.manifest(2, [1])
        await store.close_report(delivered_id, ReportState.COMPLETE, delivered_manifest)
        digest_bytes = secrets.token_bytes(40_000)  # stands in for the signed digest carrying it
        await store.add_digest(1, [digest_bytes], [delivered_id])
        await store.mark_digest_posted(1)
        deleted_ciphertexts += [delivered_answer, delivered_manifest, digest_bytes]

        # before deleting: the doomed ciphertext is really on disk (the scan can see it)
        assert _remnants(data_dir, [big, digest_bytes]) != []

        assert await store.discard_report(discarded_id)
        day.advance(RetentionPolicy().report_days)
        counts = await run_retention(store, RetentionPolicy())
        assert counts.reports == 1

        # while the store is open, nothing readable and no deleted bytes either
        assert find_leaks(data_dir, markers) == []
        assert _remnants(data_dir, deleted_ciphertexts) == []

        # the kept report is all there and opens for the analyst
        kept = await store.load_report(kept_id)
        opened_texts = [
            str(open_envelope(env, [analyst]).fields["answer"]) for env in kept.answers.values()
        ]
        for text in answers.values():
            assert any(text in opened for opened in opened_texts)
        assert kept.manifest is not None
        assert open_envelope(kept.manifest, [analyst]).fields["status"] == "complete"
        assert attachment_marker.encode() in open_envelope(kept.attachments[300], [analyst]).body

    # at rest, after the store is closed
    names = {p.name for p in files_under(data_dir)}
    assert names == {DB_FILENAME}
    assert find_leaks(data_dir, markers) == []
    assert _remnants(data_dir, deleted_ciphertexts) == []
    # and nothing in any log line
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "retention: deleted 1 reports" in logged
    for marker in [*identity.values(), *answers.values(), kept_id, discarded_id, delivered_id]:
        assert marker not in logged
    report(
        "canary-storage",
        files_scanned=len(files_under(data_dir)),
        markers=len(markers),
        deleted_ciphertexts_checked=len(deleted_ciphertexts),
        markers_found=len(find_leaks(data_dir, markers)),
        deleted_bytes_found=len(_remnants(data_dir, deleted_ciphertexts)),
    )


def test_the_leak_scanner_finds_a_marker_in_every_encoding(tmp_path: Path) -> None:
    """The scanner above must be able to fail: each encoding of a marker is found."""
    import base64

    marker = _marker("녀성")
    forms = {
        "utf8": marker.encode(),
        "utf16le": marker.encode("utf-16-le"),
        "utf16be": marker.encode("utf-16-be"),
        "hex": marker.encode().hex().encode(),
        "HEX": marker.encode().hex().upper().encode(),
        "b64": base64.b64encode(b"x" + marker.encode() + b"y"),
        "b64url": base64.urlsafe_b64encode(b"xy" + marker.encode()),
    }
    for name, form in forms.items():
        folder = tmp_path / name
        folder.mkdir()
        (folder / "file.bin").write_bytes(b"\x00junk" + form + b"junk\x00")
        assert find_leaks(folder, [marker]) == [("file.bin", marker)], name
