"""The demo's round trip: answers file -> sealed in the database -> digest in a folder -> opened.

``reportbot demo --answers FILE --data DIR`` must leave a digest and a key in DIR that open in
``reportbot analyst open`` to exactly the answers the engine handed to sealing.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from bot.cli import _register, cli
from bot.sealing.envelope import DIGEST_SIZE_BUCKETS

ANSWERS = Path(__file__).parent / "golden" / "answers"
FULL = ANSWERS / "worker_report_full.yaml"
DECLINED = ANSWERS / "worker_report_declined.yaml"


@pytest.fixture(scope="module", autouse=True)
def _commands() -> None:
    _register()


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def demo(data: Path, answers: Path, lang: str = "en") -> dict[str, Any]:
    result = run(
        "demo", "--lang", lang, "--year", "2025", "--quiet", "--answers", str(answers),
        "--data", str(data),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert isinstance(document, dict)
    return document


def open_reports(data: Path, out: Path) -> list[dict[str, Any]]:
    result = run(
        "analyst", "open", str(data / "digests"), "--key", str(data / "keys" / "demo-analyst.key"),
        "--out", str(out), "--no-progress",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = (out / "reports.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def test_the_demo_digest_opens_in_the_toolkit_with_the_key_it_leaves(tmp_path: Path) -> None:
    data = tmp_path / "demo"
    handed_on = demo(data, FULL, lang="ko")
    digest = data / "digests" / "000001.bin"
    assert digest.stat().st_size in DIGEST_SIZE_BUCKETS
    assert (data / "keys" / "demo-analyst.key").stat().st_mode & 0o077 == 0
    (report,) = open_reports(data, tmp_path / "out")
    assert report["status"] == "complete"
    assert report["lang"] == "ko"
    assert report["flow_version"] == handed_on["version"]
    opened = {a["question"]: a["answer"] for a in report["answers"]}
    assert opened == handed_on["answers"]
    assert report["attachments"], "the pretend photo and voice note are sealed too"


def test_a_second_run_keeps_the_key_and_continues_the_sequence(tmp_path: Path) -> None:
    data = tmp_path / "demo"
    first = demo(data, FULL)
    key_bytes = (data / "keys" / "demo-analyst.key").read_bytes()
    second = demo(data, FULL, lang="ru")
    assert (data / "keys" / "demo-analyst.key").read_bytes() == key_bytes
    assert sorted(p.name for p in (data / "digests").iterdir()) == ["000001.bin", "000002.bin"]
    reports = open_reports(data, tmp_path / "out")
    assert [r["lang"] for r in reports] == ["en", "ru"]
    assert {a["question"]: a["answer"] for a in reports[0]["answers"]} == first["answers"]
    assert {a["question"]: a["answer"] for a in reports[1]["answers"]} == second["answers"]
    verify = run(
        "analyst", "verify", str(data / "digests"), "--bot-key", str(data / "keys" / "bot.pub")
    )
    assert verify.exit_code == 0, verify.output
    assert "no gap" in verify.output


def test_the_demo_shows_the_report_as_an_analyst_sees_it(tmp_path: Path) -> None:
    result = run(
        "demo", "--lang", "en", "--year", "2025", "--answers", str(FULL),
        "--data", str(tmp_path / "demo"),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "[demo] digest closed into" in out
    assert "opened with the demo analyst key" in out
    assert "-> Fish processing plant" in out or "other: Fish processing plant" in out
    assert "reportbot analyst open" in out


REPORTER_WORDS = {
    # lang: (the receipt screen's first words, its button, consent's answer, "other" + own words)
    "ko": ("이것이 번호입니다", "[번호를 적어두었습니다]", "-> 예", "기타: Fish processing plant"),
    "ru": ("Ваш код", "[Код сохранён]", "-> да", "другое: Fish processing plant"),
}


@pytest.mark.parametrize("lang", sorted(REPORTER_WORDS))
def test_the_demo_ends_on_the_receipt_then_the_opened_report_with_no_english_word_leaking(
    tmp_path: Path, lang: str
) -> None:
    """Issue 14.7: the bot's receipt screen, then the JSON, then the opened report last, all of
    it in the reporter's language ("yes" and "other:" leaked into the Korean report)."""
    receipt, button, consent, other = REPORTER_WORDS[lang]
    result = run(
        "demo", "--lang", lang, "--year", "2025", "--answers", str(FULL),
        "--data", str(tmp_path / "demo"),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    at_receipt = next(i for i, line in enumerate(lines) if line.startswith(receipt))
    numbers = lines[at_receipt + 1 : at_receipt + 3]
    assert all(re.fullmatch(r"8 9\d\d \d{3}-\d\d-\d\d", n) for n in numbers), numbers
    assert any(line.startswith(button) for line in lines[at_receipt:])
    at_json = lines.index("{")
    at_opened = next(i for i, line in enumerate(lines) if line.startswith("[demo] opened with"))
    assert at_receipt < at_json < at_opened, "receipt, then the JSON, then the opened report"
    report = lines[at_opened + 2 :]
    assert report[-1] == "    -> " + texts(lang)["contact_when.choice.within_month"]
    assert "    " + consent in report
    assert any(other in line for line in report)
    shown = "\n".join(report)
    for english in ("-> yes", "other:", "complete", "digest #"):
        assert english not in shown, english


def texts(lang: str) -> dict[str, str]:
    path = Path(__file__).parent.parent / "locales" / lang / "worker_report.yaml"
    loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def test_declined_consent_keeps_nothing_and_closes_no_digest(tmp_path: Path) -> None:
    data = tmp_path / "demo"
    handed_on = demo(data, DECLINED)
    assert handed_on["answers"] == {}
    assert not (data / "digests").exists()


def test_a_scripted_demo_without_data_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = run("demo", "--lang", "en", "--year", "2025", "--quiet", "--answers", str(FULL))
    assert result.exit_code == 0, result.output
    assert list(tmp_path.iterdir()) == []


def test_demo_and_flows_try_cannot_drift_apart_on_their_shared_options() -> None:
    """`reportbot demo` and `reportbot flows try` take --locales, --answers, --year and --trace
    from one decorator (bot.cli.demo.questionnaire_options): same names, types, defaults, help;
    --lang differs only in its default (try: ko; demo: asked)."""
    from bot.cli.flows import flows
    from reportbot_analyst.cli_demo import demo

    def shared(command: Any) -> dict[str, dict[str, Any]]:
        return {
            p.name: p.to_info_dict()
            for p in command.params
            if p.name in {"lang", "locales_dir", "answers", "this_year", "trace"}
        }

    in_demo, in_try = shared(demo), shared(flows.commands["try"])
    assert set(in_demo) == {"lang", "locales_dir", "answers", "this_year", "trace"}
    assert in_try["lang"]["default"] == "ko"
    assert in_demo["lang"]["default"] is None
    assert in_demo["lang"]["type"] == in_try["lang"]["type"]
    in_demo.pop("lang"), in_try.pop("lang")
    assert in_demo == in_try
