"""The analysts' workspace, from digests alone: flow snapshots, a workspace that only grows, the
inputs analysts have (files, folders, a Telegram Desktop export) and the outputs they use.

Failures blocked: labels missing (raw ids) because no checkout is at hand or the flow was edited
since; a version of a flow lost over a restart; a snapshot that lies about its version.
"""

from __future__ import annotations

import json
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from bot.cli import keys as cli_keys
from bot.delivery.flow_snapshots import SNAPSHOT_DIR, snapshot_document
from bot.sealing.envelope import seal_record
from bot.sealing.keys import Recipients, write_public_file
from reportbot_analyst import cli as cli_analyst
from reportbot_analyst.flows import SnapshotError, flow_from_snapshot
from reportbot_analyst.keys import AnalystSecretKey, new_analyst_key
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


# ---- the workspace through the CLI ----


@pytest.fixture
def cli() -> click.Group:
    group = click.Group("reportbot")
    cli_keys.register(group)
    cli_analyst.register(group)
    return group


@dataclass
class Desk:
    """An analyst's key files and the bot that posts to them."""

    key: AnalystSecretKey
    key_file: Path
    bot: Bot


@pytest.fixture
def desk(tmp_path: Path) -> Desk:
    key, key_file, _ = new_analyst_key(tmp_path / "keys", "alice", None, limits="min")
    bot = Bot(Recipients([key.public]), tmp_path / "data")
    write_public_file(tmp_path / "keys" / "bot.pub", bot.signing.public.token())
    bot.run([shipped_flow()])
    return Desk(key, key_file, bot)


def open_cli(
    cli: click.Group, desk: Desk, out: Path, *inputs: Path | str, lang: str = "ko"
) -> Result:
    result = CliRunner().invoke(
        cli,
        [
            "analyst",
            "open",
            *map(str, inputs),
            "--key",
            str(desk.key_file),
            "--out",
            str(out),
            "--lang",
            lang,
            "--no-progress",
        ],
    )
    assert "Traceback" not in result.output, result.output
    return result


def _outputs(out: Path) -> dict[str, bytes]:
    return {
        p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()
    }


async def test_opening_in_two_batches_keeps_every_report_and_reopening_changes_nothing(
    cli: click.Group, desk: Desk, tmp_path: Path
) -> None:
    channel = tmp_path / "channel"
    for _ in range(3):
        await desk.bot.report(Report(shipped_flow(), SAMPLE_ANSWERS))
        await desk.bot.digest(channel)
    out = tmp_path / "ws"
    first = open_cli(cli, desk, out, channel)
    assert first.exit_code == 0, first.output
    assert first.stderr == ""
    assert "added 3 new digest(s) (#1-#3), 0 already" in first.stdout
    for _ in range(2):
        await desk.bot.report(Report(shipped_flow(), SAMPLE_ANSWERS, lang="ru"))
        await desk.bot.digest(channel)
    # The routine: everything the channel holds, again.
    second = open_cli(cli, desk, out, channel)
    assert second.exit_code == 0, second.output
    assert second.stderr == ""  # seen digests are skipped without a word
    assert "added 2 new digest(s) (#4-#5), 3 already in the workspace" in second.stdout
    assert len((out / "reports.jsonl").read_text("utf-8").splitlines()) == 5
    before = _outputs(out)
    third = open_cli(cli, desk, out, channel)
    assert third.exit_code == 0
    assert third.stderr == ""
    assert "added 0 new digest(s), 5 already in the workspace" in third.stdout
    assert _outputs(out) == before
    assert stat.S_IMODE(out.stat().st_mode) == 0o700


async def test_missing_numbers_are_listed_with_the_command_that_asks_for_them(
    cli: click.Group, desk: Desk, tmp_path: Path
) -> None:
    channel = tmp_path / "channel"
    files = [p for _ in range(4) for p in await desk.bot.digest(channel)]
    files[1].unlink()
    files[2].unlink()
    result = open_cli(cli, desk, tmp_path / "ws", channel)
    assert result.exit_code == 0
    assert result.stderr.splitlines() == [
        "warning: missing digests: #2-#3: ask the operator to post them again: "
        "reportbot digests resend 2; reportbot digests resend 3"
    ]


async def test_a_forged_reuse_of_a_sequence_number_is_the_one_alarm(
    cli: click.Group, desk: Desk, tmp_path: Path
) -> None:
    channel = tmp_path / "channel"
    await desk.bot.report(Report(shipped_flow(), SAMPLE_ANSWERS))
    await desk.bot.digest(channel)
    out = tmp_path / "ws"
    assert open_cli(cli, desk, out, channel).exit_code == 0
    # Someone holding the bot key (or a bug) signs another digest #1.
    forged_bot = Bot(desk.bot.recipients, tmp_path / "data2", signing=desk.bot.signing)
    forged_bot.run([shipped_flow()])
    await forged_bot.report(Report(shipped_flow(), SAMPLE_ANSWERS))
    await forged_bot.digest(tmp_path / "forged")
    for path in (tmp_path / "forged").iterdir():
        path.rename(channel / f"again-{path.name}")
    result = open_cli(cli, desk, out, channel)
    assert result.exit_code == 1
    alarms = [line for line in result.stderr.splitlines() if "ALARM:" in line]
    assert len(alarms) == 1
    assert "a different digest #1" in alarms[0]
    assert [
        line for line in result.stderr.splitlines() if "ALARM:" not in line and "Error:" not in line
    ] == []
    assert len((out / "reports.jsonl").read_text("utf-8").splitlines()) == 1


def _export(folder: Path, posted: list[Path], extra: list[dict[str, object]]) -> Path:
    """A Telegram Desktop export in its documented layout: result.json and files/."""
    (folder / "files").mkdir(parents=True)
    messages: list[dict[str, object]] = [
        {"id": 1, "type": "service", "date": "2026-12-01T00:00:00", "action": "create_channel"}
    ]
    for n, path in enumerate(posted, start=2):
        target = folder / "files" / path.name
        if target.exists():  # Telegram Desktop renames a repeated name: "000001 (1).bin"
            target = folder / "files" / f"{path.stem} (1){path.suffix}"
        shutil.copy(path, target)
        messages.append(
            {
                "id": n,
                "type": "message",
                "date": "2026-12-01T06:12:00",
                "date_unixtime": "1764569520",
                "from": "reports",
                "from_id": "channel1234567890",
                "file": f"files/{target.name}",
                "file_name": path.name,
                "file_size": path.stat().st_size,
                "mime_type": "application/octet-stream",
                "text": f"#{n - 1} · 12345 67890 12345 67890 12345",
                "text_entities": [{"type": "plain", "text": f"#{n - 1}"}],
            }
        )
    messages += extra
    doc = {"name": "reports", "type": "private_channel", "id": 1234567890, "messages": messages}
    (folder / "result.json").write_text(json.dumps(doc, ensure_ascii=False, indent=1), "utf-8")
    return folder


async def test_a_telegram_desktop_export_is_opened_as_it_is(
    cli: click.Group, desk: Desk, tmp_path: Path
) -> None:
    channel = tmp_path / "channel"
    posted: list[Path] = []
    for _ in range(2):
        await desk.bot.report(Report(shipped_flow(), SAMPLE_ANSWERS))
        posted += await desk.bot.digest(channel)
    posted.append(posted[0])  # posted twice (a crash between posting and recording)
    challenge = tmp_path / "verify-1.bin"
    challenge.write_bytes(b"RBSE" + bytes(100))
    export = _export(
        tmp_path / "Telegram Desktop" / "ChatExport_2026-12-03",
        [*posted, challenge],
        [
            {
                "id": 90,
                "type": "message",
                "date": "2026-12-02T06:00:00",
                "file": "(File not included. Change data exporting settings to download.)",
                "file_name": "000003.bin",
                "text": "#3",
            }
        ],
    )
    out = tmp_path / "ws"
    result = open_cli(cli, desk, out, export)
    assert result.exit_code == 0, result.output
    assert "added 2 new digest(s) (#1-#2), 1 already" in result.stdout
    assert result.stderr.splitlines() == [
        f"warning: {export / 'result.json'}: 1 document(s) were not included in the export: "
        "export again with 'Files' ticked and the size limit at its maximum"
    ]
    assert len((out / "reports.jsonl").read_text("utf-8").splitlines()) == 2
    # Its result.json and the folder holding several exports work the same.
    again = open_cli(cli, desk, out, export / "result.json")
    assert "added 0 new digest(s), 3 already" in again.stdout
    parent = open_cli(cli, desk, out, export.parent)
    assert "added 0 new digest(s), 3 already" in parent.stdout


async def test_a_whole_account_export_reads_only_its_private_channels(
    cli: click.Group, desk: Desk, tmp_path: Path
) -> None:
    await desk.bot.report(Report(shipped_flow(), SAMPLE_ANSWERS))
    posted = await desk.bot.digest(tmp_path / "channel")
    export = _export(tmp_path / "DataExport_2026-12-03", posted, [])
    chat = json.loads((export / "result.json").read_text("utf-8"))
    (export / "files" / "holiday.jpg").write_bytes(b"\xff\xd8 not a digest")
    other = {"id": 7, "type": "personal_chat", "messages": [{"id": 1, "file": "files/holiday.jpg"}]}
    account = {"about": "...", "chats": {"about": "...", "list": [other, chat]}}
    (export / "result.json").write_text(json.dumps(account), "utf-8")
    result = open_cli(cli, desk, tmp_path / "ws", export)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""  # the personal chat's photo is not even looked at
    assert "added 1 new digest(s) (#1-#1)" in result.stdout


def verify_cli(cli: click.Group, *args: str | Path) -> Result:
    result = CliRunner().invoke(cli, ["analyst", "verify", *map(str, args)])
    assert "Traceback" not in result.output, result.output
    return result


async def test_verify_with_the_workspace_needs_no_bot_key_and_fails_while_a_digest_is_missing(
    cli: click.Group, desk: Desk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """setup.md's ``reportbot analyst verify EXPORT --workspace ~/reports``, as written: it
    said "no pinned bot key" (the workspace kept no bot.pub), and a gap must fail it."""
    monkeypatch.delenv("REPORTBOT_BOT_KEY", raising=False)
    channel = tmp_path / "channel"
    files = [p for _ in range(3) for p in await desk.bot.digest(channel)]
    out = tmp_path / "ws"
    assert open_cli(cli, desk, out, channel).exit_code == 0
    ok = verify_cli(cli, channel, "--workspace", out)
    assert ok.exit_code == 0, ok.output
    assert "sequence: #1-#3, no gap" in ok.stdout
    # Tomorrow's export: #4 never reached the channel, #5 did.
    for path in files:
        path.unlink()
    (fourth,) = await desk.bot.digest(channel)
    fourth.unlink()
    await desk.bot.digest(channel)
    gap = verify_cli(cli, channel, "--workspace", out)
    assert gap.exit_code == 1
    assert gap.stderr.splitlines()[-1] == (
        "Error: missing digests: #4: ask the operator to post them again: "
        "reportbot digests resend 4"
    )
    listed = verify_cli(cli, channel, "--workspace", out, "--json")
    assert listed.exit_code == 1
    *per_file, summary = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [(f["status"], f["seq"]) for f in per_file] == [("ok", 5)]
    assert summary == {
        "summary": True,
        "digests": [1, 2, 3, 5],
        "missing": [4],
        "rejected": 0,
        "conflicts": 0,
    }


async def test_open_json_is_one_summary_object_a_script_can_read(
    cli: click.Group, desk: Desk, tmp_path: Path
) -> None:
    channel = tmp_path / "channel"
    files = []
    for _ in range(3):
        await desk.bot.report(Report(shipped_flow(), SAMPLE_ANSWERS))
        files += await desk.bot.digest(channel)
    files[1].unlink()
    out = tmp_path / "ws"
    first = open_cli(cli, desk, out, channel, "--json")
    assert first.exit_code == 0, first.output
    [line] = first.stdout.splitlines()
    summary = json.loads(line)
    assert {k: summary[k] for k in ("added", "already", "digests", "missing", "reports")} == {
        "added": [1, 3],
        "already": 0,
        "digests": [1, 3],
        "missing": [2],
        "reports": 2,
    }
    assert (summary["complete"], summary["conflicts"], summary["rejected"]) == (2, 0, 0)
    assert first.stderr.startswith("warning: missing digests: #2")  # warnings stay on stderr
    again = json.loads(open_cli(cli, desk, out, channel, "--json").stdout)
    assert (again["added"], again["already"]) == ([], 2)
