"""A report's thread in the workspace: the reporter's follow-ups and the analysts' replies.

Failures blocked: replies posted in the channel invisible to every analyst (the toolkit skipped
them), so nobody knows a reporter was already answered, or by whom; the author's own words lost
once the reply is sealed to the reporter; a forged reply claiming an analyst's key shown as
theirs; an analyst's text running as HTML on the report page.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import click
from click.testing import CliRunner, Result
from nacl.public import PrivateKey

from bot.cli import keys as cli_keys
from bot.receipts.derivation import reply_key_token
from bot.sealing.keys import Recipients, write_public_file
from reportbot_analyst import cli as cli_analyst
from reportbot_analyst.keys import AnalystSecretKey, new_analyst_key
from reportbot_analyst.replies import seal_reply
from tests.analyst_support import SAMPLE_ANSWERS, Bot, Report, shipped_flow

ALICE_SAYS = "<b>고맙습니다.</b> 읽었습니다 <script>alert(1)</script>"


def _cli() -> click.Group:
    group = click.Group("reportbot")
    cli_keys.register(group)
    cli_analyst.register(group)
    return group


def _run(*args: str | Path) -> Result:
    result = CliRunner().invoke(_cli(), [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    return result


async def test_replies_posted_in_the_channel_are_threaded_with_the_follow_ups(
    tmp_path: Path,
) -> None:
    alice, alice_file, _ = new_analyst_key(tmp_path / "keys", "alice", None, limits="min")
    bob = AnalystSecretKey.generate()
    bot = Bot(Recipients([alice.public, bob.public]), tmp_path / "data")
    write_public_file(tmp_path / "keys" / "bot.pub", bot.signing.public.token())
    bot.run([shipped_flow()])
    reporter = PrivateKey.generate()  # the reply key derived from the reporter's receipt code
    reply_key = reply_key_token(bytes(reporter.public_key))
    report = await bot.report(Report(shipped_flow(), SAMPLE_ANSWERS, reply_key=reply_key))
    await bot.followup(report, [{"text": "사장이 또 왔다"}], shipped_flow())
    channel = tmp_path / "channel"
    await bot.digest(channel)
    ws = tmp_path / "ws"
    opening = ("analyst", "open", channel, "--key", alice_file, "--out", ws, "--no-progress")
    assert _run(*opening, "--lang", "ko").exit_code == 0

    # Alice replies from her workspace and posts the file; a second reply is not posted yet.
    replied = _run(
        *("analyst", "reply", report, "--text", ALICE_SAYS, "--key", alice_file),
        *("--opened", ws, "--out", channel / "reply-alice.bin"),
    )
    assert replied.exit_code == 0, replied.output
    assert "your own copy" in replied.stdout
    later = _run(
        *("analyst", "reply", report, "--text", "내일 또 씁니다", "--key", alice_file),
        *("--opened", ws, "--out", tmp_path / "not-posted.bin"),
    )
    assert later.exit_code == 0, later.output
    # Bob replies from his own machine; someone posts an altered copy of Alice's reply.
    today = datetime.now(UTC).date()
    (channel / "reply-bob.bin").write_bytes(
        seal_reply(bob, report, reply_key, "Bob's words", day=today)
    )
    altered = bytearray((channel / "reply-alice.bin").read_bytes())
    altered[60] ^= 1
    (channel / "reply-altered.bin").write_bytes(bytes(altered))

    result = _run(*opening, "--lang", "ko", "--html")
    assert result.exit_code == 0, result.output
    [warning] = result.stderr.splitlines()  # the altered copy, and nothing else
    assert "claims the key of an analyst you know but its signature does not verify" in warning
    [doc] = [
        d
        for d in map(json.loads, (ws / "reports.jsonl").read_text("utf-8").splitlines())
        if d["report"] == report
    ]
    replies = [{k: r[k] for k in ("by", "by_you", "text", "posted", "day")} for r in doc["replies"]]
    assert replies == [
        {
            "by": alice.key_id.hex(),
            "by_you": True,
            "text": "<b>고맙습니다.</b> 읽었습니다 <script>alert(1)</script>",
            "posted": True,
            "day": today.isoformat(),
        },
        {
            "by": alice.key_id.hex(),
            "by_you": True,
            "text": "내일 또 씁니다",
            "posted": False,
            "day": today.isoformat(),
        },
        {"by": bob.key_id.hex(), "by_you": False, "text": None, "posted": True, "day": None},
    ]
    # The report page threads them: the follow-up, Alice's replies, then Bob's (day unknown).
    page = (ws / "html" / "reports" / f"{report}.html").read_text("utf-8")
    thread = page[page.index('<ol class="thread">') :]
    order = [
        thread.index("사장이 또 왔다"),
        thread.index("&lt;b&gt;고맙습니다.&lt;/b&gt;"),
        thread.index("내일 또 씁니다"),
        thread.index(bob.key_id.hex()),
    ]
    assert order == sorted(order)
    assert "<b>" not in page
    assert "<script>" not in page
    assert "쓴 사람만 읽을수 있게 봉인된 답장입니다" in thread  # Bob's text: sealed, not shown
    assert "채널에서 아직 못 봄" in thread  # the reply not posted yet
    # Bob's workspace sees both posted replies, his own as his.
    bob_file = tmp_path / "keys" / "bob.key"
    from reportbot_analyst.keys import analyst_key_file_bytes

    bob_file.write_bytes(analyst_key_file_bytes(bob, None))
    bob_file.chmod(0o600)
    bob_ws = tmp_path / "bob-ws"
    opened = _run("analyst", "open", channel, "--key", bob_file, "--out", bob_ws, "--no-progress")
    assert opened.exit_code == 0, opened.output
    [bob_doc] = [
        d
        for d in map(json.loads, (bob_ws / "reports.jsonl").read_text("utf-8").splitlines())
        if d["report"] == report
    ]
    # alice.pub lies next to Bob's key here: her reply is checked and named, the altered copy
    # that claims her key is left out.
    assert sorted(
        (r["by"], r["by_name"], r["by_you"], r["signature_checked"]) for r in bob_doc["replies"]
    ) == sorted([(alice.key_id.hex(), "alice", False, True), (bob.key_id.hex(), None, True, True)])
    assert "signature does not verify" in opened.stderr
    assert all(r["text"] is None for r in bob_doc["replies"])


@dataclass
class Team:
    """Alice (a key file and bot.pub in keys/), Bob (a key in memory), the bot sealing to both,
    and one report whose reporter kept a receipt (its reply key)."""

    alice: AnalystSecretKey
    alice_file: Path
    bob: AnalystSecretKey
    bot: Bot
    reply_key: str
    report: str


async def _team(tmp_path: Path) -> Team:
    alice, alice_file, _ = new_analyst_key(tmp_path / "keys", "alice", None, limits="min")
    bob = AnalystSecretKey.generate()
    bot = Bot(Recipients([alice.public, bob.public]), tmp_path / "data")
    write_public_file(tmp_path / "keys" / "bot.pub", bot.signing.public.token())
    bot.run([shipped_flow()])
    reply_key = reply_key_token(bytes(PrivateKey.generate().public_key))
    report = await bot.report(Report(shipped_flow(), SAMPLE_ANSWERS, reply_key=reply_key))
    return Team(alice, alice_file, bob, bot, reply_key, report)


async def test_a_colleagues_reply_is_checked_with_their_pub_beside_your_key(
    tmp_path: Path,
) -> None:
    team = await _team(tmp_path)
    alice_file, bob, bot = team.alice_file, team.bob, team.bot
    reply_key, report = team.reply_key, team.report
    channel = tmp_path / "channel"
    await bot.digest(channel)
    today = datetime.now(UTC).date()
    bobs = seal_reply(bob, report, reply_key, "Bob's words", day=today)
    (channel / "reply-bob.bin").write_bytes(bobs)
    ws = tmp_path / "ws"
    opening = ("analyst", "open", channel, "--key", alice_file, "--out", ws, "--no-progress")

    def replies() -> list[dict[str, object]]:
        docs = map(json.loads, (ws / "reports.jsonl").read_text("utf-8").splitlines())
        [doc] = [d for d in docs if d["report"] == report]
        return [
            {k: r[k] for k in ("by", "by_name", "by_you", "signature_checked")}
            for r in doc["replies"]
        ]

    assert _run(*opening).exit_code == 0
    unknown = {"by": bob.key_id.hex(), "by_name": None, "by_you": False}
    assert replies() == [{**unknown, "signature_checked": False}]
    # Bob's public key, handed over like bot.pub, kept next to Alice's key.
    write_public_file(tmp_path / "keys" / "bob.pub", bob.public.token())
    altered = bytearray(bobs)
    altered[60] ^= 1
    (channel / "reply-bob-altered.bin").write_bytes(bytes(altered))
    result = _run(*opening, "--html")
    assert result.exit_code == 0, result.output
    [warning] = result.stderr.splitlines()  # the altered copy is named and left out
    assert "signature does not verify" in warning
    assert replies() == [{**unknown, "by_name": "bob", "signature_checked": True}]
    page = (ws / "html" / "reports" / f"{report}.html").read_text("utf-8")
    assert "bob" in page
    assert "서명은 여기서 확인하지 않음" not in page


async def test_a_reply_read_from_an_export_has_the_day_it_was_posted(tmp_path: Path) -> None:
    """Another analyst's reply keeps its day sealed for the reporter; the channel's export says
    when it was posted, so the thread can place it (it came last, "day unknown")."""
    team = await _team(tmp_path)
    alice_file, bob, bot = team.alice_file, team.bob, team.bot
    reply_key, report = team.reply_key, team.report
    posted = await bot.digest(tmp_path / "channel")
    bobs = tmp_path / "channel" / "reply-bob.bin"
    bobs.write_bytes(seal_reply(bob, report, reply_key, "Bob's words", day=date(2026, 12, 2)))
    export = tmp_path / "ChatExport_2026-12-03"
    (export / "files").mkdir(parents=True)
    messages = []
    for n, (path, when) in enumerate(
        [(posted[0], "2026-12-01T06:12:00"), (bobs, "2026-12-02T09:30:00")], start=1
    ):
        (export / "files" / path.name).write_bytes(path.read_bytes())
        messages.append(
            {
                "id": n,
                "type": "message",
                "date": when,
                "file": f"files/{path.name}",
                "file_name": path.name,
                "text": "",
            }
        )
    (export / "result.json").write_text(
        json.dumps({"name": "reports", "type": "private_channel", "messages": messages}), "utf-8"
    )
    ws = tmp_path / "ws"
    opening = ("analyst", "open", export, "--key", alice_file, "--out", ws, "--no-progress")
    assert _run(*opening).exit_code == 0
    docs = map(json.loads, (ws / "reports.jsonl").read_text("utf-8").splitlines())
    [doc] = [d for d in docs if d["report"] == report]
    assert [(r["by"], r["day"]) for r in doc["replies"]] == [(bob.key_id.hex(), "2026-12-02")]
    before = {p: p.read_bytes() for p in ws.rglob("*") if p.is_file()}
    assert _run(*opening).exit_code == 0
    assert {p: p.read_bytes() for p in ws.rglob("*") if p.is_file()} == before
