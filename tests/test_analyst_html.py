"""The offline HTML report, opened in a real headless browser (Debian's chromium).

Failures blocked: a reporter's answer holding HTML or script that runs in the analyst's browser;
a report that fetches anything from the network (a tracking pixel, a CDN script); links that lead
nowhere; a page that does not render. Screenshots are kept in ``tests/artifacts/html/``
(gitignored) for a person to look at.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from nacl.public import PrivateKey

from bot.cli import keys as cli_keys
from bot.questionnaire.flow import AnswerValue
from bot.receipts.derivation import reply_key_token
from bot.receipts.replies import parse_reply
from bot.sealing.keys import Recipients, write_public_file
from reportbot_analyst import cli as cli_analyst
from reportbot_analyst.keys import new_analyst_key
from reportbot_analyst.replies import seal_reply
from reportbot_analyst.threads import keep_written
from tests.analyst_support import SAMPLE_ANSWERS, Bot, Report, png, shipped_flow

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = Path(os.environ.get("REPORTBOT_ARTIFACTS", ROOT / "tests" / "artifacts")) / "html"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
HOSTILE = (
    "<script>document.title='PWNED'</script>"
    "<img src=x onerror=\"document.title='PWNED'\">"
    '<a href="https://example.org/x">click</a> 끝'
)

FOLLOWUP = "사장이 또 왔다"
REPLIED = date(2026, 12, 3)
HOSTILE_REPLY = "<b onclick=\"document.title='PWNED'\">고맙습니다</b>"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None and not os.environ.get("REPORTBOT_BROWSER_REQUIRED"),
        reason="chromium not installed (CI installs it: .ci/run)",
    ),
]


def browser(*args: str, profile: Path) -> str:
    """Run headless chromium once, with no network at all; its stdout."""
    assert CHROMIUM is not None, "chromium is required here (apt-get install chromium)"
    run = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--disable-background-networking",
            "--host-resolver-rules=MAP * ~NOTFOUND",  # any host name fails to resolve
            f"--user-data-dir={profile}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    return run.stdout


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.sources: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script":
            self.scripts += 1
        if tag == "a" and values.get("href"):
            self.links.append(str(values["href"]))
        for name in ("src", "srcset", "poster", "data"):
            if values.get(name):
                self.sources.append(str(values[name]))


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import asyncio

    tmp = tmp_path_factory.mktemp("html")
    key, key_file, _ = new_analyst_key(tmp / "keys", "alice", None, limits="min")
    bot = Bot(Recipients([key.public]), tmp / "data")
    write_public_file(tmp / "keys" / "bot.pub", bot.signing.public.token())
    bot.run([shipped_flow()])

    reply_key = reply_key_token(bytes(PrivateKey.generate().public_key))

    async def post() -> None:
        answers: dict[str, AnswerValue] = {**SAMPLE_ANSWERS, "more": {"text": HOSTILE}}
        first = await bot.report(Report(shipped_flow(), answers, photo=png(), reply_key=reply_key))
        await bot.followup(first, [{"text": FOLLOWUP}], shipped_flow())
        reply = seal_reply(key, first, reply_key, HOSTILE_REPLY, day=REPLIED)
        (tmp / "channel").mkdir(parents=True, exist_ok=True)
        (tmp / "channel" / "reply-1.bin").write_bytes(reply)
        await bot.report(Report(shipped_flow(), SAMPLE_ANSWERS, lang="ru"))
        await bot.report(
            Report(shipped_flow(), {**SAMPLE_ANSWERS, "ongoing": {"choice": "stopped"}})
        )
        await bot.digest(tmp / "channel")

    asyncio.run(post())
    group = click_group()
    out = tmp / "ws"
    # As `analyst reply --opened` leaves it: the author's own copy of the reply's text.
    reply = (tmp / "channel" / "reply-1.bin").read_bytes()
    keep_written(
        out,
        reply,
        report=parse_reply(reply).report_id,
        day=REPLIED,
        text=HOSTILE_REPLY,
        signer=key.key_id,
    )
    args = ["analyst", "open", str(tmp / "channel"), "--key", str(key_file), "--out", str(out)]
    result = CliRunner().invoke(group, [*args, "--lang", "ko", "--html", "--no-progress"])
    assert result.exit_code == 0, result.output
    return out


def click_group() -> click.Group:
    group = click.Group("reportbot")
    cli_keys.register(group)
    cli_analyst.register(group)
    return group


def _pages(out: Path) -> list[Path]:
    return sorted((out / "html").rglob("*.html"))


def test_the_report_renders_in_a_real_browser_with_screenshots(
    workspace: Path, tmp_path: Path
) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    index = workspace / "html" / "index.html"
    dom = browser("--dump-dom", index.as_uri(), profile=tmp_path / "p")
    assert "<title>이야기 개요</title>" in dom
    assert dom.count("<rect") >= 5  # the week, site, place, ongoing and multi-select charts
    assert "지금도 계속되고있습니까?" in dom  # the "ongoing" chart, titled in Korean
    for page in [
        index,
        workspace / "html" / "list.html",
        *sorted((workspace / "html" / "reports").iterdir()),
    ]:
        shot = ARTIFACTS / f"{page.stem[:12]}.png"
        browser(
            "--window-size=1100,1400", f"--screenshot={shot}", page.as_uri(), profile=tmp_path / "p"
        )
        assert shot.stat().st_size > 5_000  # a rendered page, not a blank one


def test_reporter_html_and_script_stay_inert_text(workspace: Path, tmp_path: Path) -> None:
    pages = [p for p in _pages(workspace) if "PWNED" in p.read_text("utf-8")]
    assert pages, "the hostile answer is in a report page"
    for page in pages:
        raw = page.read_text("utf-8")
        assert "&lt;script&gt;document.title=&#39;PWNED&#39;&lt;/script&gt;" in raw
        dom = browser("--dump-dom", page.as_uri(), profile=tmp_path / "p")
        parsed = Links()
        parsed.feed(dom)
        assert parsed.scripts == 0
        assert "PWNED" not in re.search(r"<title>(.*?)</title>", dom, re.S).group(1)  # type: ignore[union-attr]
        assert "https://example.org/x" not in parsed.links  # shown as text, not made a link
        assert "&lt;script&gt;" in dom


def test_every_link_and_image_leads_to_a_file_of_the_workspace(
    workspace: Path, tmp_path: Path
) -> None:
    checked = 0
    for page in _pages(workspace):
        parsed = Links()
        parsed.feed(page.read_text("utf-8"))
        assert parsed.scripts == 0
        for ref in [*parsed.links, *parsed.sources]:
            assert not re.match(r"^[a-z]+:", ref), f"{page.name}: {ref} leaves the workspace"
            target = (page.parent / ref).resolve()
            assert target.is_file(), f"{page.name}: {ref} leads nowhere"
            assert target.is_relative_to(workspace.resolve())
            checked += 1
    assert checked > 10
    # A link followed in the browser opens the report it names.
    listing = Links()
    listing.feed((workspace / "html" / "list.html").read_text("utf-8"))
    report = next(link for link in listing.links if link.startswith("reports/"))
    dom = browser("--dump-dom", (workspace / "html" / report).as_uri(), profile=tmp_path / "p")
    assert '<dl class="answers">' in dom
    # The photo is shown inline, from the workspace.
    images = [
        s
        for p in _pages(workspace)
        for s in re.findall(r'<img src="([^"]+)"', p.read_text("utf-8"))
    ]
    assert any(s.endswith(".png") for s in images)


def test_the_policy_forbids_every_request_and_every_script(workspace: Path) -> None:
    for page in _pages(workspace):
        raw = page.read_text("utf-8")
        [policy] = re.findall(r'http-equiv="Content-Security-Policy" content="([^"]+)"', raw)
        rules = dict(rule.strip().split(" ", 1) for rule in html.unescape(policy).split(";"))
        assert rules["default-src"] == "'none'"
        assert rules["script-src"] == "'none'"
        assert rules["connect-src"] == "'none'"
        assert rules["img-src"] == "'self'"
        assert rules["style-src"].startswith("'sha256-")
        assert not re.search(r'(src|href)="(https?:)?//', raw)


def test_the_thread_of_follow_ups_and_replies_renders_with_the_reply_inert(
    workspace: Path, tmp_path: Path
) -> None:
    [page] = [p for p in _pages(workspace) if FOLLOWUP in p.read_text("utf-8")]
    dom = browser("--dump-dom", page.as_uri(), profile=tmp_path / "p")
    thread = dom[dom.index('<ol class="thread">') :]
    # By day: the reply of 2026-12-03, then the follow-up the digest of today carried.
    assert thread.index(REPLIED.isoformat()) < thread.index(FOLLOWUP)
    assert "&lt;b onclick=" in thread  # the analyst's words as text, not markup
    assert "PWNED" not in re.search(r"<title>(.*?)</title>", dom, re.S).group(1)  # type: ignore[union-attr]
    parsed = Links()
    parsed.feed(dom)
    assert parsed.scripts == 0
