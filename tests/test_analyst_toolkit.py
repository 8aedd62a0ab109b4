"""The analysts' toolkit and the keys CLI, driven as analysts use them.

Attacks and failures: forged, altered, truncated, replayed, duplicated and foreign digests; the
wrong key or passphrase; unknown format versions and flow versions; spreadsheet formulas in a
reporter's text; a photo carrying GPS. Each error must be one line and a non-zero exit.
"""

from __future__ import annotations

import json
import stat
from datetime import date
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from bot.cli import keys as cli_keys
from bot.questionnaire.flow import MediaKind
from bot.sealing.envelope import (
    ExternalEntry,
    ReportContext,
    ReportStatus,
    seal_answer,
    seal_attachment,
    seal_manifest,
    sign_digest,
)
from bot.sealing.keys import BotSigningKey
from reportbot_analyst import cli as cli_analyst
from reportbot_analyst.keys import AnalystSecretKey, load_analyst_key
from reportbot_analyst.toolkit import FlowCatalog, open_digests, write_output
from tests.sealing_support import (
    PASSPHRASE,
    Team,
    digest_of,
    gps_jpeg,
    has_gps,
    make_team,
    read_table,
    report_context,
    sealed_report,
    small_flow,
    write_team_files,
)


@pytest.fixture
def team() -> Team:
    return make_team()


@pytest.fixture
def keys(team: Team, tmp_path: Path) -> dict[str, Path]:
    return write_team_files(team, tmp_path / "keys")


@pytest.fixture
def cli() -> click.Group:
    group = click.Group("reportbot")
    cli_keys.register(group)
    cli_analyst.register(group)
    return group


def run(cli: click.Group, *args: str | Path, env: dict[str, str] | None = None) -> Result:
    result = CliRunner().invoke(cli, [str(a) for a in args], env=env)
    assert "Traceback" not in result.output
    if result.exit_code != 0:
        assert isinstance(result.exception, SystemExit), result.exception
    return result


def open_args(
    keys: dict[str, Path], out: Path, *files: Path, key: str = "alice.key"
) -> list[Path | str]:
    return [
        "analyst",
        "open",
        *files,
        "--key",
        keys[key],
        "--passphrase-file",
        keys["passphrase"],
        "--out",
        out,
        "--no-progress",
    ]


def error_lines(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("Error:")]


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


# ---- the keys CLI ----


def test_new_analyst_prints_public_key_and_a_fingerprint_to_read_aloud(
    cli: click.Group, tmp_path: Path
) -> None:
    phrase = tmp_path / "pp"
    phrase.write_text(PASSPHRASE + "\n")
    result = run(
        cli,
        "keys",
        "new-analyst",
        "--out",
        tmp_path / "k",
        "--name",
        "alice",
        "--passphrase-file",
        phrase,
        "--kdf-limits",
        "min",
    )
    assert result.exit_code == 0, result.output
    assert "rb-analyst-pub-v1:" in result.stdout
    fingerprint_line = next(x for x in result.stdout.splitlines() if x.startswith("fingerprint"))
    assert [len(g) for g in fingerprint_line.split(":")[1].split()] == [5] * 5
    key = tmp_path / "k" / "alice.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert json.loads(key.read_text())["protection"] == "argon2id"
    shown = run(cli, "keys", "show", key, tmp_path / "k" / "alice.pub")
    assert shown.exit_code == 0
    assert fingerprint_line.split(":")[1].strip() in shown.stdout.splitlines()[0]
    assert (
        shown.stdout.splitlines()[0].split("fingerprint")[1]
        == (shown.stdout.splitlines()[1].split("fingerprint")[1])
    )


def test_new_analyst_without_a_passphrase_source_and_no_terminal_fails_cleanly(
    cli: click.Group, tmp_path: Path
) -> None:
    result = run(cli, "keys", "new-analyst", "--out", tmp_path, "--kdf-limits", "min")
    assert result.exit_code == 1
    assert error_lines(result) == [
        "Error: no passphrase: give --passphrase-file or set REPORTBOT_PASSPHRASE "
        "(no terminal to ask on)"
    ]
    assert not (tmp_path / "analyst.key").exists()


def test_new_analyst_no_passphrase_and_new_bot(cli: click.Group, tmp_path: Path) -> None:
    result = run(cli, "keys", "new-analyst", "--out", tmp_path, "--no-passphrase")
    assert result.exit_code == 0
    assert "no passphrase" in result.stdout
    result = run(cli, "keys", "new-bot", "--out", tmp_path)
    assert result.exit_code == 0
    assert "rb-bot-verify-v1:" in result.stdout
    assert stat.S_IMODE((tmp_path / "bot.key").stat().st_mode) == 0o600
    again = run(cli, "keys", "new-bot", "--out", tmp_path)
    assert again.exit_code == 1
    assert "refusing to overwrite" in error_lines(again)[0]


def test_keys_show_refuses_a_private_key_file_others_can_read(
    cli: click.Group, keys: dict[str, Path]
) -> None:
    keys["bot.key"].chmod(0o644)
    result = run(cli, "keys", "show", keys["bot.key"], keys["bot.pub"])
    assert result.exit_code == 1
    assert "can be read by others" in result.stderr
    assert "bot verify key" in result.stdout


# ---- open: the round trip ----


def test_reports_open_with_each_analysts_key_into_jsonl_csv_and_files(
    cli: click.Group, team: Team, keys: dict[str, Path], tmp_path: Path
) -> None:
    flow = small_flow()
    ctx = report_context("ru", flow.version)
    envelopes = sealed_report(
        team,
        ctx,
        {
            "consent": {"consent": True},
            "site": {"choice": "other", "text": "лесозаготовка"},
            "taken": {"choices": ["loyalty_funds", "quota"]},
            "hours": {"number": 14},
            "more": {"text": '=HYPERLINK("http://x")'},
        },
    )
    digest = write(tmp_path / "d1.bin", digest_of(team, envelopes))
    for key in ("alice.key", "bob.key"):
        out = tmp_path / f"out-{key}"
        result = open_digests([digest], [_load(keys[key])], team.bot.public)
        write_output(result, out, FlowCatalog([flow]), "ru", team.bot.public)
        lines = (out / "reports.jsonl").read_text(encoding="utf-8").splitlines()
        assert len(lines) == 1
        report = json.loads(lines[0])
        assert report["report"] == ctx.report_id
        assert report["status"] == "complete"
        assert report["flow_version"] == flow.version
        texts = {a["question"]: a["text"] for a in report["answers"]}
        assert texts["taken"] == "RU-loyalty_funds; RU-quota"
        assert texts["site"] == "другое: лесозаготовка"  # the toolkit's word, in Russian
        assert texts["hours"] == "14"
        headers, rows = read_table(out)
        assert len(rows) == 1
        assert "RU taken?: RU-loyalty_funds" in headers  # one 0/1 column per option
        assert rows[0]["taken.loyalty_funds"] == "1"
        assert rows[0]["taken.quota"] == "1"
        assert rows[0]["site"] == "другое"
        assert rows[0]["site.other"] == "лесозаготовка"
        assert rows[0]["hours"] == "14"
        assert rows[0]["more"].startswith("'=")  # a formula in a spreadsheet is neutralised
        assert stat.S_IMODE(out.stat().st_mode) == 0o700
        assert stat.S_IMODE((out / "reports.jsonl").stat().st_mode) == 0o600
    # And through the CLI, carol (not a recipient) gets one clear line and exit 1.
    carol = run(
        cli,
        *open_args(keys, tmp_path / "carol", digest, key="carol.key"),
        "--bot-key",
        keys["bot.pub"],
    )
    assert carol.exit_code == 1
    assert len(error_lines(carol)) == 1
    assert "none of the digests is sealed to your key" in error_lines(carol)[0]


def _load(path: Path) -> AnalystSecretKey:
    return load_analyst_key(path, lambda: PASSPHRASE)


def test_open_cli_uses_the_shipped_flow_labels_in_the_language_asked(
    cli: click.Group, team: Team, keys: dict[str, Path], tmp_path: Path
) -> None:
    from bot.questionnaire.loader import default_locales_dir, load_flow
    from reportbot_analyst.toolkit import shipped_flows_dir

    flows = shipped_flows_dir()
    assert flows is not None
    flow = load_flow(
        flows / "worker_report.yaml", default_locales_dir(flows / "worker_report.yaml")
    )
    question = next(q for q in flow.questions if q.kind == "multi")
    ctx = report_context("ko", flow.version)
    envelopes = sealed_report(team, ctx, {question.id: {"choices": question.choices[:2]}})
    digest = write(tmp_path / "d.bin", digest_of(team, envelopes))
    out = tmp_path / "out"
    result = run(cli, *open_args(keys, out, digest), "--lang", "ko")  # bot.pub beside the key
    assert result.exit_code == 0, result.output
    headers, rows = read_table(out)
    for c in question.choices:
        assert f"{flow.text('ko', f'{question.id}.prompt')}: " in " ".join(headers)
        assert rows[0][f"{question.id}.{c}"] == ("1" if c in question.choices[:2] else "0")
    assert "1 report(s) (1 complete" in result.stdout


def test_unknown_flow_version_shows_raw_ids_never_a_wrong_label(
    team: Team, keys: dict[str, Path], tmp_path: Path
) -> None:
    flow = small_flow()
    ctx = report_context("ko", "ffffffffffffffff")  # a version the analyst does not have
    envelopes = sealed_report(team, ctx, {"taken": {"choices": ["quota"]}})
    digest = write(tmp_path / "d.bin", digest_of(team, envelopes))
    result = open_digests([digest], [_load(keys["alice.key"])], team.bot.public)
    write_output(result, tmp_path / "out", FlowCatalog([flow]), "en", team.bot.public)
    report = json.loads((tmp_path / "out" / "reports.jsonl").read_text())
    assert report["answers"][0]["text"] == "quota"
    assert "version ffffffffffffffff not available" in report["labels"]
    assert any("ffffffffffffffff" in n for n in result.notices)


def test_label_for_an_id_missing_from_the_flow_is_shown_raw(
    team: Team, keys: dict[str, Path], tmp_path: Path
) -> None:
    flow = small_flow()
    ctx = report_context("ko", flow.version)
    digest = write(
        tmp_path / "d.bin",
        digest_of(team, sealed_report(team, ctx, {"taken": {"choices": ["quota", "ghost"]}})),
    )
    result = open_digests([digest], [_load(keys["alice.key"])], team.bot.public)
    write_output(result, tmp_path / "out", FlowCatalog([flow]), "en", team.bot.public)
    report = json.loads((tmp_path / "out" / "reports.jsonl").read_text())
    assert report["answers"][0]["text"] == "EN-quota; [ghost]"


# ---- attachments ----


def test_gps_tagged_jpeg_comes_out_of_the_toolkit_without_gps(
    cli: click.Group, team: Team, keys: dict[str, Path], tmp_path: Path
) -> None:
    flow = small_flow()
    ctx = report_context("ko", flow.version)
    photo = gps_jpeg()
    assert has_gps(photo)
    envelopes = [
        seal_attachment(
            team.recipients,
            ctx,
            slot=0,
            question="evidence",
            ref="ph1",
            media=MediaKind.PHOTO,
            data=photo,
            mime="image/jpeg",
        ),
        seal_answer(
            team.recipients,
            ctx,
            slot=1,
            question="evidence",
            answer={"media": [{"kind": "photo", "ref": "ph1"}]},
        ),
        seal_manifest(team.recipients, ctx, slot=2, status=ReportStatus.COMPLETE, slots=[0, 1]),
    ]
    digest = write(tmp_path / "d.bin", digest_of(team, envelopes))
    out = tmp_path / "out"
    result = run(cli, *open_args(keys, out, digest))
    assert result.exit_code == 0, result.output
    report = json.loads((out / "reports.jsonl").read_text())
    (attachment,) = report["attachments"]
    assert attachment["metadata"] == "stripped"
    saved = out / attachment["file"]
    assert saved.suffix == ".jpg"
    assert not has_gps(saved.read_bytes())
    assert b"CanaryPhone" not in saved.read_bytes()
    assert report["answers"][0]["text"] == attachment["file"]


def test_large_attachment_sent_as_its_own_file_opens_only_when_referenced(
    cli: click.Group, team: Team, keys: dict[str, Path], tmp_path: Path
) -> None:
    ctx = report_context()
    video = seal_attachment(
        team.recipients,
        ctx,
        slot=0,
        question="evidence",
        ref="v1",
        media=MediaKind.VIDEO,
        data=b"\x00\x00\x00\x18ftypmp42" * 10_000,
        mime="video/mp4",
    )
    manifest = seal_manifest(team.recipients, ctx, slot=1, status=ReportStatus.COMPLETE, slots=[0])
    video_file = write(tmp_path / "v.bin", video)
    digest = write(tmp_path / "d.bin", digest_of(team, [manifest, ExternalEntry.of(video)]))
    out = tmp_path / "out"
    result = run(cli, *open_args(keys, out, digest, video_file))
    assert result.exit_code == 0, result.output
    report = json.loads((out / "reports.jsonl").read_text())
    assert report["attachments"][0]["metadata"] == "not_stripped"
    # Without the separate file, the toolkit names what is missing.
    result = run(cli, *open_args(keys, tmp_path / "out2", digest))
    assert "refers to a separate file" in result.stderr


# ---- rejected input: one line, non-zero exit, nothing used ----


def test_forged_altered_truncated_and_unknown_version_files_are_rejected_and_unused(
    cli: click.Group, team: Team, keys: dict[str, Path], tmp_path: Path
) -> None:
    good_ctx, bad_ctx = report_context(), report_context()
    good = write(tmp_path / "1.bin", digest_of(team, sealed_report(team, good_ctx, {"q": {}})))
    payload = sealed_report(team, bad_ctx, {"q": {"text": "injected"}})
    impostor = BotSigningKey.generate()
    forged = write(
        tmp_path / "2.bin",
        sign_digest(
            impostor, seq=2, day=date(2025, 1, 3), key_ids=team.recipients.key_ids, entries=payload
        ),
    )
    real = bytearray(digest_of(team, payload, seq=3))
    real[100] ^= 0x04
    altered = write(tmp_path / "3.bin", bytes(real))
    truncated = write(tmp_path / "4.bin", digest_of(team, payload, seq=4)[:5000])
    version = bytearray(digest_of(team, payload, seq=5))
    version[4] = 2
    unknown = write(tmp_path / "5.bin", bytes(version))
    junk = write(tmp_path / "6.bin", b"%PDF-1.4 not a digest")
    out = tmp_path / "out"
    result = run(cli, *open_args(keys, out, good, forged, altered, truncated, unknown, junk))
    assert result.exit_code == 1
    rejected = {
        line.split(":")[0] for line in result.stderr.splitlines() if line.startswith("REJECTED")
    }
    assert rejected == {f"REJECTED {p}" for p in (forged, altered, truncated, unknown, junk)}
    assert "not the pinned bot key" in result.stderr
    assert "truncated" in result.stderr
    assert "format version 2 is unknown" in result.stderr
    assert "bad magic" in result.stderr
    assert len(error_lines(result)) == 1
    lines = (out / "reports.jsonl").read_text().splitlines()
    assert [json.loads(x)["report"] for x in lines] == [good_ctx.report_id]
    assert "injected" not in (out / "reports.jsonl").read_text()


def test_wrong_passphrase_is_one_line_and_nonzero(
    cli: click.Group, team: Team, keys: dict[str, Path], tmp_path: Path
) -> None:
    digest = write(
        tmp_path / "d.bin", digest_of(team, sealed_report(team, report_context(), {"q": {}}))
    )
    bad = tmp_path / "bad-pass"
    bad.write_text("definitely wrong\n")
    result = run(
        cli,
        "analyst",
        "open",
        digest,
        "--key",
        keys["alice.key"],
        "--passphrase-file",
        bad,
        "--out",
        tmp_path / "out",
    )
    assert result.exit_code == 1
    assert error_lines(result) == [
        f"Error: {keys['alice.key']}: wrong passphrase (or the key file is damaged)"
    ]
    assert not (tmp_path / "out").exists()
    env_result = run(
        cli,
        "analyst",
        "open",
        digest,
        "--key",
        keys["alice.key"],
        "--out",
        tmp_path / "out",
        env={"REPORTBOT_PASSPHRASE": PASSPHRASE},
    )
    assert env_result.exit_code == 0, env_result.output


def test_missing_pinned_bot_key_is_one_line(
    cli: click.Group, team: Team, keys: dict[str, Path], tmp_path: Path
) -> None:
    keys["bot.pub"].unlink()
    digest = write(tmp_path / "d.bin", digest_of(team, []))
    result = run(cli, *open_args(keys, tmp_path / "out", digest))
    assert result.exit_code == 1
    assert "no pinned bot key" in error_lines(result)[0]


# ---- duplicates, gaps, replays ----


def test_duplicates_are_dropped_and_gaps_named(
    cli: click.Group, team: Team, keys: dict[str, Path], tmp_path: Path
) -> None:
    ctx = report_context()
    report = sealed_report(team, ctx, {"q": {"number": 1}})
    d1 = write(tmp_path / "1.bin", digest_of(team, report, seq=1))
    d1_again = write(tmp_path / "1-again.bin", d1.read_bytes())
    # The same report posted again in a later digest (a crash between posting and recording).
    d4 = write(tmp_path / "4.bin", digest_of(team, report, seq=4, day=date(2025, 1, 5)))
    out = tmp_path / "out"
    result = run(cli, *open_args(keys, out, d1, d1_again, d4))
    assert result.exit_code == 0, result.output
    assert "missing digests: #2-#3" in result.stderr
    assert "reportbot digests resend 2; reportbot digests resend 3" in result.stderr
    assert str(d1_again) not in result.stderr  # the same bytes twice: counted, not warned
    assert "added 2 new digest(s) (#1-#4), 1 already in the workspace" in result.stdout
    assert "dropped: 2 duplicate record(s)" in result.stdout
    lines = (out / "reports.jsonl").read_text().splitlines()
    assert len(lines) == 1
    assert json.loads(lines[0])["digests"] == [1, 4]
    verify = run(cli, "analyst", "verify", d1, d1_again, d4, "--bot-key", keys["bot.pub"])
    assert verify.exit_code == 1  # a missing digest is a failure, with the command to fix it
    assert error_lines(verify) == [
        "Error: missing digests: #2-#3: ask the operator to post them again: "
        "reportbot digests resend 2; reportbot digests resend 3"
    ]


def test_two_digests_under_one_number_are_refused_within_and_across_runs(
    cli: click.Group, team: Team, keys: dict[str, Path], tmp_path: Path
) -> None:
    first = write(
        tmp_path / "a.bin", digest_of(team, sealed_report(team, report_context(), {"q": {}}))
    )
    other = write(
        tmp_path / "b.bin", digest_of(team, sealed_report(team, report_context(), {"q": {}}))
    )
    out = tmp_path / "out"
    result = run(cli, *open_args(keys, out, first, other))
    assert result.exit_code == 1
    assert "ALARM: a different digest #1" in result.stderr
    assert "two digests under one number" in result.stderr
    # A later run into the same folder: the workspace remembers #1.
    result = run(cli, *open_args(keys, out, other))
    assert result.exit_code == 1
    assert "ALARM: a different digest #1 is already in this workspace" in result.stderr
    # The same digest given again is the normal routine: skipped without a word.
    result = run(cli, *open_args(keys, out, first))
    assert result.exit_code == 0
    assert [line for line in result.stderr.splitlines() if "raw ids" not in line] == []
    assert "added 0 new digest(s), 1 already in the workspace" in result.stdout


def test_verify_needs_no_analyst_key_and_rejects_a_foreign_key(
    cli: click.Group, team: Team, keys: dict[str, Path], tmp_path: Path
) -> None:
    digest = write(tmp_path / "d.bin", digest_of(team, []))
    ok = run(cli, "analyst", "verify", digest, "--bot-key", keys["bot.pub"])
    assert ok.exit_code == 0
    assert "sequence: #1-#1, no gap" in ok.stdout
    foreign = BotSigningKey.generate().public.token()
    bad = run(cli, "analyst", "verify", digest, "--bot-key", foreign)
    assert bad.exit_code == 1
    assert "REJECTED" in bad.stderr
    private = run(cli, "analyst", "verify", digest, "--bot-key", keys["bot.key"])
    assert private.exit_code == 1
    assert "PRIVATE signing key" in error_lines(private)[0]


# ---- reassembly ----


def test_edited_answer_and_dropped_branch_follow_the_manifest(
    team: Team, keys: dict[str, Path], tmp_path: Path
) -> None:
    ctx = report_context()
    r = team.recipients
    envelopes = [
        seal_answer(r, ctx, slot=0, question="site", answer={"choice": "construction"}),
        seal_answer(r, ctx, slot=1, question="branch", answer={"text": "no longer taken"}),
        seal_answer(r, ctx, slot=2, question="site", answer={"choice": "clothing"}),  # edit
        seal_manifest(r, ctx, slot=3, status=ReportStatus.COMPLETE, slots=[2]),
    ]
    digest = write(tmp_path / "d.bin", digest_of(team, envelopes))
    result = open_digests([digest], [_load(keys["alice.key"])], team.bot.public)
    (report,) = result.reports
    assert [(a.question, dict(a.answer)) for a in report.answers] == [
        ("site", {"choice": "clothing"})
    ]
    assert result.superseded == 2


def test_interrupted_report_keeps_what_was_answered(
    team: Team, keys: dict[str, Path], tmp_path: Path
) -> None:
    ctx: ReportContext = report_context()
    envelopes = sealed_report(
        team, ctx, {"site": {"choice": "clothing"}}, status=ReportStatus.INTERRUPTED
    )
    digest = write(tmp_path / "d.bin", digest_of(team, envelopes))
    (report,) = open_digests([digest], [_load(keys["bob.key"])], team.bot.public).reports
    assert report.status == "interrupted"
    assert len(report.answers) == 1


def test_retired_key_still_opens_old_digests_beside_the_new_key(
    cli: click.Group, team: Team, keys: dict[str, Path], tmp_path: Path
) -> None:
    """Alice's old key is retired and Bob's is the only active one: giving both keys opens all."""
    from bot.sealing.keys import Recipients

    old_ctx, new_ctx = report_context(), report_context()
    old = write(tmp_path / "1.bin", digest_of(team, sealed_report(team, old_ctx, {"q": {}})))
    team.recipients = Recipients([team.bob.public])  # after retiring alice's key
    new = write(tmp_path / "2.bin", digest_of(team, sealed_report(team, new_ctx, {"q": {}}), seq=2))
    only_old = run(cli, *open_args(keys, tmp_path / "a", old, new))
    assert only_old.exit_code == 0, only_old.output
    assert "digest #2 is not sealed to your key: skipped" in only_old.stderr
    both = run(cli, *open_args(keys, tmp_path / "b", old, new), "--key", keys["bob.key"])
    assert both.exit_code == 0, both.output
    reports = {
        json.loads(line)["report"]
        for line in (tmp_path / "b" / "reports.jsonl").read_text().splitlines()
    }
    assert reports == {old_ctx.report_id, new_ctx.report_id}


def test_a_public_key_given_as_key_says_so_in_one_line(
    cli: click.Group, team: Team, keys: dict[str, Path], tmp_path: Path
) -> None:
    digest = write(tmp_path / "d.bin", digest_of(team, []))
    pub = keys["alice.key"].with_suffix(".pub")
    pub.write_text(team.alice.public.token() + "\n")
    pub.chmod(0o644)  # as public keys are: it must not be told to chmod
    for given, expected in (
        (pub, "that is a public key; give your private key file instead"),
        (keys["bot.pub"], "that is the bot's public key; give it as --bot-key"),
    ):
        args: list[str | Path] = [
            "analyst",
            "open",
            digest,
            "--key",
            given,
            "--out",
            tmp_path / "o",
        ]
        result = run(cli, *args, "--bot-key", keys["bot.pub"], "--no-progress")
        assert result.exit_code == 1
        [line] = error_lines(result)
        assert expected in line
        assert "chmod" not in line


def test_every_analyst_command_help_has_examples(cli: click.Group) -> None:
    for command in (
        ["analyst", "open"],
        ["analyst", "verify"],
        ["analyst", "verify-channel"],
        ["analyst", "reply"],
        ["keys", "new-analyst"],
    ):
        result = run(cli, *command, "--help")
        assert result.exit_code == 0
        assert "Examples:" in result.output
        assert "reportbot " + " ".join(command) in result.output
