"""An acceptance run of docs/setup.md: a new analyst follows its steps, command by command.

The analysts' commands are read from setup.md itself (its ``sh`` blocks and the commands and
messages it quotes inline), run as written from an analyst's home folder, in a new terminal each
(a shell that reads ``~/.profile``; a pty where a passphrase is asked): the install from a copy of
the repository (deleted before anything else runs) and the PATH line setup.md puts in
``~/.profile``, the key pair (step 2), reading bot.pub's fingerprint (step 3), the channel proof
(step 6), "export the channel, open the export" (step 8) on a Telegram Desktop export in its
documented layout, the check with ``verify --workspace``, ``--html``, a reply to the reporter
who kept a code (posted, then in the next export), and the two messages
setup.md tells analysts to expect. The bot's side (the operator) is this checkout's own code.

Failures blocked: a documented command that does not work as written (``analyst verify EXPORT
--workspace ~/reports`` said "no pinned bot key"; ``reportbot`` not found after the install:
setup.md never said how to put it on the PATH); an install that needs the checkout afterwards;
a message quoted in setup.md that the toolkit words differently; the replay alarm firing on the
normal routine of opening everything again.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import pty
import re
import select
import shlex
import shutil
import struct
import sys
import termios
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from nacl.public import PrivateKey

from bot.delivery.channel_checks import AnswerStatus, ChannelChecker, ChannelVerifier
from bot.receipts.derivation import reply_key_token
from bot.sealing.keys import BotSigningKey, Recipients, load_analyst_public_key
from storage.memory import MemoryReportStore
from tests.analyst_support import SAMPLE_ANSWERS, Bot, Report, png, shipped_flow
from tests.channel_fake import ANALYST_IDS, CHANNEL_ID, FakeChannelApi, make_bot
from tests.install_support import INSTALL_TIMEOUT

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
SETUP = ROOT / "docs" / "setup.md"
PASSPHRASE = "a long sentence nobody else would ever guess 로동"
NOT_COPIED = {".git", ".venv", ".install-check", "build", "artifacts", "node_modules"}


# ---- reading setup.md ----


def _blocks(text: str) -> list[str]:
    """The ``sh`` code blocks, continuation lines joined."""
    return [
        re.sub(r"\\\n\s*", "", block).strip()
        for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S)
    ]


def _inline(text: str, start: str) -> str:
    """The inline code that starts with ``start`` (line breaks inside it as spaces)."""
    found = re.findall(r"`(" + re.escape(start) + r"[^`]*)`", text)
    assert found, f"setup.md quotes no `{start}...`"
    return " ".join(found[0].split())


@dataclass(frozen=True)
class Page:
    install: str
    path_line: str
    reply: str
    new_key: str
    bot_key_shown: str
    verify_channel: str
    open: str
    verify: str
    html_flag: str
    missing: str
    alarm: str

    @classmethod
    def read(cls) -> Page:
        text = SETUP.read_text(encoding="utf-8")
        blocks = _blocks(text)

        def block(needle: str) -> str:
            (found,) = [b for b in blocks if needle in b]
            return found

        return cls(
            install=_inline(text, "sh scripts/install.sh analyst"),
            path_line=_inline(text, "export PATH="),
            reply=_inline(text, "reportbot analyst reply"),
            new_key=block("keys new-analyst"),
            bot_key_shown=_inline(text, "reportbot keys show ~/"),
            verify_channel=block("analyst verify-channel"),
            open=block("analyst open"),
            verify=_inline(text, "reportbot analyst verify EXPORT"),
            html_flag=_inline(text, "--html"),
            missing=_inline(text, "warning: missing digests:"),
            alarm=_inline(text, "ALARM:"),
        )


# ---- an analyst's terminal ----


class Home:
    """An analyst's home folder and their terminal: a shell with setup.md's PATH line in their
    profile, where commands run as setup.md writes them."""

    def __init__(self, path: Path, profile: str) -> None:
        self.path = path
        self.venv = path / "reportbot-venv"
        (path / ".profile").write_text(profile + "\n", encoding="utf-8")

    def env(self) -> dict[str, str]:
        return {
            "PATH": "/usr/bin:/bin",  # nothing of reportbot's until the profile says so
            "HOME": str(self.path),
            "LANG": "C.UTF-8",
            "TERM": "dumb",
            "PYTHONDONTWRITEBYTECODE": "1",
        }

    def run(self, command: str, *, passphrase: str | None = None, timeout: float = 300) -> Typed:
        """One command in a new terminal (a pty; the login shell reads ~/.profile), typing the
        passphrase at every prompt."""
        shell = ["/bin/sh", "-c", f". ~/.profile && exec {command}"]
        return _at_terminal(shell, self.path, self.env(), passphrase, timeout)


@dataclass(frozen=True)
class Typed:
    status: int
    shown: str  # what the terminal showed (stdout and stderr, as a person sees them)

    @property
    def output(self) -> str:
        return self.shown.replace("\r\n", "\n")

    @property
    def lines(self) -> list[str]:
        return [line.rstrip() for line in self.output.splitlines()]


def _at_terminal(
    argv: Sequence[str], cwd: Path, env: dict[str, str], passphrase: str | None, timeout: float
) -> Typed:
    pid, fd = pty.fork()
    if pid == 0:  # the child: the pty is its controlling terminal
        try:
            # A terminal has a size (a fresh pty is 0x0: tqdm would draw an empty bar).
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
            os.chdir(cwd)
            os.execve(argv[0], list(argv), env)  # noqa: S606 - the analyst's command, no shell
        finally:
            os._exit(127)
    output = b""
    answered = 0
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.2)
            if not ready:
                continue
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            output += chunk
            if re.search(rb"(?i)passphrase[^\r\n]*: $", output) and answered != len(output):
                assert passphrase is not None, f"asked for a passphrase: {output[-200:]!r}"
                os.write(fd, passphrase.encode("utf-8") + b"\n")
                answered = len(output)
        else:
            os.kill(pid, 9)
            pytest.fail(f"{argv[0]} did not finish in {timeout} s: {output[-500:]!r}")
    finally:
        os.close(fd)
    _, status = os.waitpid(pid, 0)
    return Typed(os.waitstatus_to_exitcode(status), output.decode("utf-8", "replace"))


# ---- what the operator and the channel do (this checkout's code) ----


def _export(folder: Path, posted: Sequence[Path]) -> Path:
    """Telegram Desktop's "Export chat history" (Files, machine-readable JSON) of the channel."""
    (folder / "files").mkdir(parents=True)
    messages: list[dict[str, object]] = [
        {"id": 1, "type": "service", "date": "2026-12-01T00:00:00", "action": "create_channel"}
    ]
    for n, path in enumerate(posted, start=2):
        shutil.copy(path, folder / "files" / path.name)
        messages.append(
            {
                "id": n,
                "type": "message",
                "date": "2026-12-02T06:12:00",
                "from": "reports",
                "file": f"files/{path.name}",
                "file_name": path.name,
                "mime_type": "application/octet-stream",
                "text": "",
            }
        )
    doc = {"name": "reports", "type": "private_channel", "id": 1234567890, "messages": messages}
    (folder / "result.json").write_text(json.dumps(doc, indent=1), "utf-8")
    return folder


class Operator:
    """The bot's side of step 6 (``reportbot channel verify``, then the codes sent to the bot
    in private chats) on this checkout's code."""

    def __init__(self, data: Path, alice: Recipients, signing: BotSigningKey) -> None:
        self.store = MemoryReportStore()
        self.signing = signing
        self.checker = ChannelChecker(
            self.store, channel_id=CHANNEL_ID, allowed_admins=ANALYST_IDS, recipients=alice
        )
        self.verifier = ChannelVerifier(
            self.store, data, channel_id=CHANNEL_ID, recipients=alice, allowed_admins=ANALYST_IDS
        )

    async def challenge(self, home: Path) -> str:
        """verify-1.bin posted in the channel; the analyst saves it into their home."""
        api = FakeChannelApi(admins=list(ANALYST_IDS))
        async with make_bot(api) as bot:
            await self.verifier.start(bot, self.checker, self.signing)
        (posted,) = api.posted
        (home / posted.file_name).write_bytes(posted.data)
        return posted.file_name

    async def code_sent_privately(self, code: str) -> AnswerStatus:
        return (await self.verifier.answer(code)).status


def _copy_of_the_repository(target: Path) -> Path:
    def ignore(folder: str, names: list[str]) -> set[str]:
        return {n for n in names if n in NOT_COPIED or n.endswith((".egg-info", "__pycache__"))}

    shutil.copytree(ROOT, target, ignore=ignore)
    return target


def _files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def test_a_new_analyst_follows_setup_md_from_install_to_the_html_report(tmp_path: Path) -> None:
    page = Page.read()
    (tmp_path / "home").mkdir()
    home = Home(tmp_path / "home", page.path_line)

    # Before step 1: the install, from a copy of the repository that is deleted afterwards.
    source = _copy_of_the_repository(home.path / "Downloads" / "reportbot")
    install = _at_terminal(
        ["/bin/sh", "-c", page.install],  # from the copy, as setup.md says; ~ is this home
        source,
        {**os.environ, "HOME": str(home.path), "PYTHON": sys.executable, "PIP_NO_INPUT": "1"},
        None,
        INSTALL_TIMEOUT,
    )
    assert install.status == 0, install.output[-3000:]
    shutil.rmtree(source)
    assert (home.venv / "bin" / "reportbot").is_file()

    # Step 2: the key pair, with a passphrase typed twice.
    made = home.run(page.new_key, passphrase=PASSPHRASE)
    assert made.status == 0, made.output
    keys = home.path / "reportbot-keys"
    assert sorted(p.name for p in keys.iterdir()) == ["alice.key", "alice.pub"]
    assert re.search(r"fingerprint: \d{5} \d{5} \d{5} \d{5} \d{5}$", made.output, re.M)
    assert (keys / "alice.key").stat().st_mode & 0o077 == 0

    # Step 3: the operator gets alice.pub; the analyst keeps bot.pub next to their key.
    alice = Recipients([load_analyst_public_key(keys / "alice.pub")])
    signing = BotSigningKey.generate()
    (keys / "bot.pub").write_text(signing.public.token() + "\n", encoding="ascii")
    shown = home.run(page.bot_key_shown)  # read aloud, compared with the operator's
    assert shown.status == 0, shown.output
    assert signing.public.fingerprint in shown.output

    # Step 6: the channel proof. The example channel id in setup.md is the test channel's.
    assert str(CHANNEL_ID) in page.verify_channel
    server = tmp_path / "server"
    server.mkdir()
    operator = Operator(server, alice, signing)
    name = asyncio.run(operator.challenge(home.path))
    assert name in page.verify_channel
    proved = home.run(page.verify_channel, passphrase=PASSPHRASE)
    assert proved.status == 0, proved.output
    (code,) = re.findall(r"\b\d{4} \d{4} \d{4} \d{4} \d{4}\b", proved.output)
    assert asyncio.run(operator.code_sent_privately(code)) is AnswerStatus.VERIFIED

    # Step 8: the bot posts digests (a Korean and a Russian report, a photo, an empty digest);
    # the analyst exports the channel into their home and opens the export as it is.
    bot = Bot(alice, tmp_path / "bot-data", signing=signing)
    bot.run([shipped_flow()])
    channel = tmp_path / "channel"

    async def post() -> list[Path]:
        posted = []
        receipt = reply_key_token(bytes(PrivateKey.generate().public_key))  # a code was kept
        await bot.report(
            Report(shipped_flow(), SAMPLE_ANSWERS, lang="ko", photo=png(), reply_key=receipt)
        )
        posted += await bot.digest(channel)
        await bot.report(Report(shipped_flow(), SAMPLE_ANSWERS, lang="ru"))
        posted += await bot.digest(channel)
        posted += await bot.digest(channel)
        return posted

    posted = asyncio.run(post())
    export_name = shlex.split(page.open)[3]
    assert export_name.startswith("ChatExport_")
    _export(home.path / export_name, [home.path / name, *posted])
    opened = home.run(page.open, passphrase=PASSPHRASE)
    assert opened.status == 0, opened.output
    assert "added 3 new digest(s) (#1-#3), 0 already in the workspace" in opened.output
    assert re.search(r"opening: +\d+%\|", opened.output)  # the progress bar, at a terminal
    assert [line for line in opened.lines if "warning" in line or "ALARM" in line] == []
    workspace = home.path / "reports"
    docs = [json.loads(line) for line in (workspace / "reports.jsonl").read_text().splitlines()]
    assert len(docs) == 2
    flow = shipped_flow()
    for doc in docs:
        assert doc["labels"] == "ko"
        texts = {a["question"]: a["text"] for a in doc["answers"]}
        assert texts["site"] == flow.text("ko", "site.choice.construction")
    header = (workspace / "reports-worker_report.csv").read_text("utf-8-sig").splitlines()[0]
    assert flow.text("ko", "site.prompt").strip().splitlines()[0] in header
    assert (workspace / "reports.xlsx").is_file()
    assert workspace.stat().st_mode & 0o077 == 0

    # "Exporting the whole channel every time is fine": again, with --html, no word.
    before = _files(workspace)
    again = home.run(f"{page.open} {page.html_flag}", passphrase=PASSPHRASE)
    assert again.status == 0, again.output
    assert "added 0 new digest(s), 3 already in the workspace" in again.output
    assert [line for line in again.lines if "warning" in line or "ALARM" in line] == []
    after = _files(workspace)
    assert {k: v for k, v in after.items() if not k.startswith("html/")} == before
    assert "html/index.html" in after

    # The check setup.md gives, as written (EXPORT is the export's folder): no gap, exit 0.
    verify = page.verify.replace("EXPORT", export_name)
    checked = home.run(verify)
    assert checked.status == 0, checked.output
    assert "sequence: #1-#3, no gap" in checked.output

    # Answering the reporter who kept a code: setup.md's reply command, its REPORT_ID and text
    # filled in; the file it writes is posted, and is in the next export.
    korean = next(d for d in docs if d["lang"] == "ko")
    words = "고맙습니다. 읽었습니다."
    command = page.reply.replace("REPORT_ID", korean["report"]).replace('"..."', f'"{words}"')
    replied = home.run(command, passphrase=PASSPHRASE)
    assert replied.status == 0, replied.output
    (reply_file,) = home.path.glob("reply-*.bin")

    # A digest that never reached the channel: the warning setup.md quotes, and verify fails.
    asyncio.run(bot.digest(tmp_path / "lost"))  # #4, never posted
    (fifth,) = asyncio.run(bot.digest(channel))
    later = "ChatExport_2026-12-04"
    _export(home.path / later, [fifth, reply_file])
    gap = home.run(page.open.replace(export_name, later), passphrase=PASSPHRASE)
    assert gap.status == 0, gap.output
    quoted = page.missing.replace("#41", "#4").replace(" 41", " 4")
    assert quoted in gap.lines, (quoted, gap.lines)
    [shown] = [
        d["replies"]
        for d in map(json.loads, (workspace / "reports.jsonl").read_text().splitlines())
        if d["report"] == korean["report"]
    ]
    assert [(r["text"], r["posted"], r["by_you"]) for r in shown] == [(words, True, True)]
    failed = home.run(page.verify.replace("EXPORT", later))
    assert failed.status != 0
    assert "reportbot digests resend 4" in failed.output

    # A different digest under a number the workspace holds: the alarm setup.md quotes, alone.
    forger = Bot(alice, tmp_path / "forger-data", signing=signing)
    forger.run([shipped_flow()])
    asyncio.run(forger.report(Report(shipped_flow(), SAMPLE_ANSWERS)))
    forged = asyncio.run(forger.digest(tmp_path / "forged"))
    replayed = "ChatExport_2026-12-05"
    _export(home.path / replayed, forged)
    alarmed = home.run(page.open.replace(export_name, replayed), passphrase=PASSPHRASE)
    assert alarmed.status == 1
    alarm = page.alarm.replace("#41", "#1")
    assert len([line for line in alarmed.lines if alarm in line]) == 1, alarmed.lines
    others = [line for line in alarmed.lines if alarm not in line and not line.startswith("added")]
    assert [line for line in others if "warning" in line or "ALARM" in line] == [
        quoted,  # #4 is still missing: said again, as it should be
        "Error: 1 digest(s) re-use a number with different content: see ALARM above; nothing "
        "from them was used",
    ]
    assert len((workspace / "reports.jsonl").read_text().splitlines()) == 2  # nothing used
