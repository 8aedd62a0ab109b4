"""``reportbot demo`` and ``reportbot flows try``: answers files, stdin and the terminal."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from bot.cli import flows as cli_flows
from bot.cli.demo import default_flow_path, load_texts, register, run_demo
from bot.questionnaire.engine import Back, Choose, Done, Edit, Skip, Submit, Text
from bot.questionnaire.flow import AnswerValue, MediaKind
from bot.terminal.demo import (
    Attach,
    Complain,
    DemoError,
    MemorySink,
    Outcome,
    QuickExit,
    Session,
    ShowHelp,
    Texts,
    load_answers,
    parse_answers,
    parse_typed,
    run_script,
)
from reportbot_analyst.cli_demo import demo
from tests.engine_support import FIXTURES

REPO = Path(__file__).resolve().parent.parent
ANSWERS = Path(__file__).parent / "golden" / "answers"
FULL = ANSWERS / "worker_report_full.yaml"
BRANCHY = FIXTURES / "flows" / "branchy.yaml"


def invoke(args: Sequence[str], stdin: str | None = None) -> Result:
    return CliRunner().invoke(demo, [*args], input=stdin)


def final_json(output: str) -> dict[str, object]:
    document = json.loads(output[output.rindex("\n{\n") + 1 :] if "\n{\n" in output else output)
    assert isinstance(document, dict)
    return document


def write(tmp_path: Path, text: str, name: str = "answers.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --- it completes -----------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["ko", "ru", "en"])
def test_demo_completes_from_an_answers_file(lang: str) -> None:
    result = invoke(["--lang", lang, "--year", "2025", "--answers", str(FULL)])
    assert result.exit_code == 0, result.output
    document = final_json(result.output)
    assert document["outcome"] == "finished"
    assert document["flow"] == "worker_report"
    answers = document["answers"]
    assert isinstance(answers, dict)
    assert answers["injured"] == {"choice": "nobody"}


def test_quiet_demo_prints_only_the_json_handed_to_sealing() -> None:
    result = invoke(["--lang", "en", "--year", "2025", "--quiet", "--answers", str(FULL)])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["outcome"] == "finished"
    assert "version" in document


def test_answers_file_may_be_json(tmp_path: Path) -> None:
    text = json.dumps(["continue", "agree", {"choose": "not_now", "at": "alone"}])
    answers = write(tmp_path, text, "a.json")
    result = CliRunner().invoke(demo, ["--lang", "ru", "--quiet", "--answers", str(answers)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["outcome"] == "ended_early"


def test_demo_runs_from_any_directory_as_an_installed_command(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("reportbot")
    assert exe.exists(), "the venv's reportbot script (pip install -e .)"
    done = subprocess.run(
        [str(exe), "demo", "--lang", "ko", "--year", "2025", "--answers", str(FULL)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    assert final_json(done.stdout)["outcome"] == "finished"
    assert re.search(r"\(1번째 물음, 남은 물음 약 \d+개\)", done.stdout)


def test_demo_with_stdin_closed_and_no_answers_exits_with_a_clear_message(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("reportbot")
    done = subprocess.run(
        [str(exe), "demo", "--lang", "en"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "error: input ended before the questionnaire was finished (at question 'intro'); "
        "run it in a terminal, or pass --answers FILE"
    ]


def test_make_demo_does_not_hang_without_a_terminal() -> None:
    if not (REPO / "Makefile").is_file() or shutil.which("make") is None:
        pytest.skip("needs the checkout's Makefile and make")
    env = {**os.environ, "MAKEFLAGS": ""}
    # -o: take the venv as built (this test runs inside it); only the demo target runs.
    done = subprocess.run(
        ["make", "-s", "-o", ".venv/.installed", "demo", "ARGS=--lang ru --quiet"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
        env=env,
    )
    assert done.returncode != 0
    assert "input ended before the questionnaire was finished" in done.stderr


def test_typed_lines_on_stdin_walk_the_flow() -> None:
    # intro: Continue, consent: agree, alone: "Not now" -> ends early.
    result = invoke(["--lang", "ru"], stdin="1\n1\n2\n")
    assert result.exit_code == 0, result.output
    assert "> 2" in result.output
    assert final_json(result.output)["outcome"] == "ended_early"


def test_wrong_typed_input_gets_the_localised_error_and_the_run_goes_on() -> None:
    result = invoke(["--lang", "ru"], stdin="7\nhello\n1\n1\n2\n")
    assert result.exit_code == 0, result.output
    _, ui = load_texts(default_flow_path(), None)
    errors = [line for line in result.output.splitlines() if line.startswith("! ")]
    assert errors == [
        "! " + ui["ru"]["ui.error.not_a_choice"],
        "! " + ui["ru"]["ui.error.expected_button"],
    ]
    assert final_json(result.output)["outcome"] == "ended_early"


def test_quick_exit_hands_on_nothing() -> None:
    result = invoke(["--lang", "en"], stdin="1\n1\nq\n")
    assert result.exit_code == 0, result.output
    assert "\nOK.\n" in result.output
    document = final_json(result.output)
    assert document["outcome"] == "discarded"
    assert document["answers"] == {}


def test_flows_try_walks_a_flow_in_russian() -> None:
    group = click.Group("reportbot")
    cli_flows.register(group)
    register(group)
    script = "\n".join(["1", "1", "\\Стройка", "2"])  # "other" site typed; city: Kazan
    result = CliRunner().invoke(
        group, ["flows", "try", str(BRANCHY), "--lang", "ru", "--year", "2025"], input=script
    )
    assert result.exit_code == 1  # input ends before the flow does
    assert "Где вы работаете?" in result.output
    assert "error: input ended before the questionnaire was finished" in result.output


def test_flows_try_runs_an_answers_file_on_a_fixture_flow(tmp_path: Path) -> None:
    group = click.Group("reportbot")
    cli_flows.register(group)
    register(group)
    answers = write(
        tmp_path,
        "- continue\n- agree\n- {choose: build}\n- {text: '12'}\n- skip\n- skip\n- skip\n"
        "- {at: stop, choose: stop_here}\n",
    )
    result = CliRunner().invoke(
        group,
        ["flows", "try", str(BRANCHY), "--lang", "en", "--year", "2025", "--answers", str(answers)],
    )
    assert result.exit_code == 0, result.output
    assert "Stopped here. Thank you." in result.output
    assert final_json(result.output)["answers"] == {
        "consent": {"consent": True},
        "site": {"choice": "build"},
        "height": {"number": 12},
        "stop": {"choice": "stop_here"},
    }


# --- broken answers files fail with one clear line --------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("- continue\n- [agree\n", "line 3: not valid YAML or JSON"),
        ("- continue\n- jump\n", "item 2: unknown input 'jump'"),
        ("- continue\n- {choose: maybe, at: consent}\n", "item 2 (choose: maybe) at question"),
        ("- continue\n- agree\n- {choose: nowhere}\n", "was rejected: not_a_choice"),
        ("- continue\n- agree\n", "the answers ended before the questionnaire was finished"),
        ("- continue\n- {at: alone, choose: ok_now}\n", "expected question 'alone'"),
        ("- continue\n- agree\n- {at: alone, choose: not_now}\n- agree\n", "already ended"),
        ("- continue\n- submit\n", "does not fit here (at question 'consent')"),
        ("- continue\n- {text: [1, 2]}\n", "'text' needs a text or number value"),
        ("{continue: 1}\n", "expected a YAML or JSON list of inputs"),
        ("", "expected a YAML or JSON list of inputs"),
        ("- {media: gif}\n", "unknown media kind 'gif'"),
    ],
)
def test_broken_answers_file_fails_with_one_clear_line(
    tmp_path: Path, text: str, expected: str
) -> None:
    answers = write(tmp_path, text)
    result = CliRunner().invoke(demo, ["--lang", "en", "--quiet", "--answers", str(answers)])
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.output
    assert str(answers) in errors[0]
    assert expected in errors[0]
    assert "Traceback" not in result.output


def test_missing_answers_file_fails_clearly(tmp_path: Path) -> None:
    result = invoke(["--answers", str(tmp_path / "nope.yaml")])
    assert result.exit_code != 0
    assert "nope.yaml" in result.output
    assert "Traceback" not in result.output


def test_demo_refuses_a_flow_that_fails_the_check(tmp_path: Path) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "bad.yaml").write_text(
        "id: bad\nquestions:\n  - {id: a, kind: single, choices: [x, x]}\n", encoding="utf-8"
    )
    result = invoke(["--flow", str(flows / "bad.yaml"), "--answers", str(FULL)])
    assert result.exit_code == 1
    assert "the flow does not pass the check; not started" in result.output


# --- parsing, and the sink where sealing and storage plug in ----------------------------------


def test_typed_words_map_to_engine_events() -> None:
    flow, ui = load_texts(default_flow_path(), None)
    session = Session(flow, Texts(flow, ui), "en", 2025, MemorySink(), lambda _l: None)
    session.begin()
    screen = session.screen
    assert screen is not None
    assert parse_typed(screen, "1") == Choose("intro", "continue")
    assert parse_typed(screen, "99") == Choose("intro", "")  # the engine says not_a_choice
    assert parse_typed(screen, "b") == Back()
    assert parse_typed(screen, "s") == Skip("intro")
    assert parse_typed(screen, "d") == Done("intro")
    assert parse_typed(screen, "q") == QuickExit()
    assert parse_typed(screen, "?") == ShowHelp()
    assert parse_typed(screen, "\\b") == Text("intro", "b")
    assert parse_typed(screen, "   ") is None


def test_review_screen_numbers_edit_and_s_sends() -> None:
    flow, ui = load_texts(default_flow_path(), None)
    session = Session(flow, Texts(flow, ui), "en", 2025, MemorySink(), lambda _l: None)
    items = load_answers(FULL)
    before_submit = [i for i in items if i.action != "submit"]
    with pytest.raises(DemoError):
        run_script(session, before_submit, "x")  # ends on the review screen
    assert parse_typed(session.screen, "1") == Edit("alone")
    assert parse_typed(session.screen, "s") == Submit()
    assert parse_typed(session.screen, "999") == Complain("not_a_choice")
    assert parse_typed(session.screen, "hello") == Complain("not_a_choice")


@pytest.mark.parametrize(
    ("script", "receipt"),
    [
        ("worker_report_full.yaml", True),
        ("worker_report_declined.yaml", False),
        ("quick exit at place", False),
    ],
)
def test_a_receipt_screen_follows_a_kept_report_and_never_a_quick_exit_or_declined_consent(
    script: str, receipt: bool
) -> None:
    """The bot gives a code for every report it keeps; a code left on screen after a quick
    exit, or after nothing was kept, would be a trace for a minder and a promise we cannot keep."""
    flow, ui = load_texts(default_flow_path(), None)
    lines: list[str] = []
    session = Session(flow, Texts(flow, ui), "ko", 2025, MemorySink(), lines.append)
    if script.endswith(".yaml"):
        run_script(session, load_answers(ANSWERS / script), script)
    else:
        quick_exit = "[continue, agree, {choose: ok_now}, {at: what, choose: unpaid}, done, quit]"
        run_script(session, parse_answers(quick_exit, "x"), "x")
    assert session.outcome is not None
    screen = "\n".join(lines).splitlines()
    code_lines = [line for line in screen if re.fullmatch(r"8 9\d\d \d{3}-\d\d-\d\d", line)]
    shown = any(line.startswith("[번호를 적어두었습니다]") for line in screen)
    assert (len(code_lines), shown) == ((2, True) if receipt else (0, False))


def test_media_words_attach_a_pretend_file() -> None:
    flow, ui = load_texts(default_flow_path(), None)
    session = Session(flow, Texts(flow, ui), "en", 2025, MemorySink(), lambda _l: None)
    items = load_answers(FULL)
    first = next(i.number for i in items if i.at == "evidence")
    with pytest.raises(DemoError, match="before the questionnaire was finished"):
        run_script(session, [i for i in items if i.number < first], "x")
    assert session.current_qid == "evidence"
    assert parse_typed(session.screen, "photo") == Attach(MediaKind.PHOTO)


@dataclass
class RecordingSink:
    """A sink as sealing and storage would plug in: records each call in order."""

    calls: list[str] = field(default_factory=list)
    slots: dict[str, AnswerValue] = field(default_factory=dict)

    def attachment(self, kind: MediaKind) -> str:
        self.calls.append(f"file {kind}")
        return f"sealed-{len(self.calls)}"

    def accepted(self, qid: str, answer: AnswerValue) -> None:
        self.calls.append(f"keep {qid}")
        self.slots[qid] = answer

    def dropped(self, qid: str) -> None:
        self.calls.append(f"drop {qid}")
        self.slots.pop(qid, None)

    def closed(self, outcome: Outcome) -> list[str]:
        self.calls.append(f"close {outcome.kind}")
        assert self.slots == outcome.answers
        return ["receipt: 1234-5678"]


def test_a_plugged_in_sink_sees_every_keep_and_drop_before_the_close(tmp_path: Path) -> None:
    sink = RecordingSink()
    code = run_demo(
        default_flow_path(),
        lang="en",
        answers=FULL,
        this_year=2025,
        sink=sink,
        is_tty=lambda: False,
    )
    assert code == 0
    assert sink.calls[-1] == "close finished"
    assert "drop injury_kind" in sink.calls
    assert sink.calls.index("file photo") < sink.calls.index("keep evidence")


def test_a_sink_that_misses_a_drop_is_caught() -> None:
    class LeakySink(MemorySink):
        def dropped(self, qid: str) -> None:
            pass  # the bug: a dropped answer stays stored

    result_code = run_demo(
        default_flow_path(), lang="en", answers=FULL, this_year=2025, sink=LeakySink(), quiet=True
    )
    assert result_code == 1


def test_answers_items_keep_their_positions_for_messages() -> None:
    items = parse_answers("- continue\n- {at: consent, agree: }\n", "f.yaml")
    assert [(i.number, i.action, i.at) for i in items] == [
        (1, "continue", None),
        (2, "agree", "consent"),
    ]


def _read_until(fd: int, token: str, timeout: float = 20.0) -> str:
    buf = b""
    end = time.monotonic() + timeout
    while time.monotonic() < end and token.encode() not in buf:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        buf += chunk
    return buf.decode("utf-8", errors="replace")


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_in_a_terminal_the_demo_asks_the_language_then_the_questions(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("reportbot")
    master, slave = pty.openpty()
    child = subprocess.Popen(
        [str(exe), "demo", "--year", "2025"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=tmp_path,
        close_fds=True,
    )
    os.close(slave)
    try:
        assert "3) English" in _read_until(master, "> ")
        os.write(master, b"3\n")
        screen = _read_until(master, "Quick exit")
        assert re.search(r"\(Question 1, about \d+ more\)", screen)
        os.write(master, b"?\n")
        assert "/panic" in _read_until(master, "/panic")
        os.write(master, b"q\n")
        rest = _read_until(master, '"answers": {}')
        assert "OK." in rest
        assert '"outcome": "discarded"' in rest
        assert child.wait(timeout=20) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=5)
        os.close(master)
