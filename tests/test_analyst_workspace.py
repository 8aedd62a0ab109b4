"""The analysts' workspace, from digests alone: flow snapshots, a workspace that only grows, the
inputs analysts have (files, folders, a Telegram Desktop export) and the outputs they use.

Failures blocked: labels missing (raw ids) because no checkout is at hand or the flow was edited
since; a version of a flow lost over a restart; a snapshot that lies about its version.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.delivery.flow_snapshots import SNAPSHOT_DIR, snapshot_document
from bot.sealing.envelope import seal_record
from bot.sealing.keys import Recipients
from reportbot_analyst.flows import SnapshotError, flow_from_snapshot
from reportbot_analyst.keys import AnalystSecretKey
from reportbot_analyst.toolkit import FlowCatalog, open_digests, write_output
from tests.analyst_support import SAMPLE_ANSWERS, Bot, Report, edited_flow, shipped_flow


@pytest.fixture
def analyst() -> AnalystSecretKey:
    return AnalystSecretKey.generate()


async def test_reports_in_two_flow_versions_are_labelled_from_the_digests_alone(
    analyst: AnalystSecretKey, tmp_path: Path
) -> None:
    old, new = shipped_flow(), edited_flow(shipped_flow())
    bot = Bot(Recipients([analyst.public]), tmp_path / "data")
    folder = tmp_path / "channel"
    bot.run([old])
    await bot.report(Report(old, SAMPLE_ANSWERS))
    files = await bot.digest(folder)
    # A report answered in the old version waits for the next digest; the bot restarts with
    # the edited flow before it is closed.
    late = Report(old, SAMPLE_ANSWERS, lang="ru")
    await bot.report(late)
    bot.run([new])
    await bot.report(Report(new, SAMPLE_ANSWERS))
    files += await bot.digest(folder)
    kept = sorted(p.name for p in (tmp_path / "data" / SNAPSHOT_DIR).iterdir())
    assert kept == [f"worker_report-{new.version}.bin"]  # the old one travelled: gone

    # The digest closed after the restart carries the old version too (its late report needs it).
    second = open_digests(files[1:], [analyst], bot.signing.public)
    assert set(second.flows) == {("worker_report", old.version), ("worker_report", new.version)}

    result = open_digests(files, [analyst], bot.signing.public)
    assert set(result.flows) == {("worker_report", old.version), ("worker_report", new.version)}
    out = tmp_path / "ws"
    write_output(result, out, FlowCatalog(), "ko", bot.signing.public)
    assert not [n for n in result.notices if "raw ids" in n], result.notices
    docs = [json.loads(line) for line in (out / "reports.jsonl").read_text("utf-8").splitlines()]
    assert len(docs) == 3
    for doc in docs:
        answers = {a["question"]: a["text"] for a in doc["answers"]}
        assert answers["site"] == old.text("ko", "site.choice.construction")
        assert doc["labels"] == "ko"
    late_doc = next(d for d in docs if d["report"] == late.report_id)
    assert late_doc["flow_version"] == old.version
    # The workspace keeps both versions for later runs.
    assert sorted(p.name for p in (out / "flows").iterdir()) == sorted(
        f"worker_report-{v}.json" for v in (old.version, new.version)
    )


def test_a_snapshot_that_does_not_hash_to_its_version_is_refused() -> None:
    flow = shipped_flow()
    document = snapshot_document(flow)
    assert flow_from_snapshot(flow.id, flow.version, document).version == flow.version
    forged = document.replace("모스크바".encode(), "서울".encode(), 1)
    with pytest.raises(SnapshotError, match="does not hash"):
        flow_from_snapshot(flow.id, flow.version, forged)


async def test_a_lying_snapshot_inside_a_signed_digest_labels_nothing(
    analyst: AnalystSecretKey, tmp_path: Path
) -> None:
    import zlib

    flow = shipped_flow()
    recipients = Recipients([analyst.public])
    bot = Bot(recipients, tmp_path / "data")
    bot.run([])
    await bot.report(Report(flow, SAMPLE_ANSWERS))
    forged_doc = snapshot_document(flow).replace("모스크바".encode(), "서울".encode(), 1)
    lying = seal_record(
        recipients,
        {"kind": "flow", "flow": flow.id, "flow_version": flow.version, "encoding": "zlib"},
        zlib.compress(forged_doc),
    )

    class Lying:
        def entries(self) -> list[bytes]:
            return [lying]

        def carried(self) -> None:
            pass

    assert bot.closer is not None
    bot.closer.snapshots = Lying()  # type: ignore[assignment]
    files = await bot.digest(tmp_path / "channel")
    result = open_digests(files, [analyst], bot.signing.public)
    write_output(result, tmp_path / "ws", FlowCatalog(), "ko", bot.signing.public)
    assert any("does not hash" in n for n in result.notices)
    assert any("raw ids" in n for n in result.notices)
    assert not (tmp_path / "ws" / "flows").exists()
