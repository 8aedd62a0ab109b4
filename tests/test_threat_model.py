"""docs/threat-model.md cannot drift from the code: every test it names exists, every promise
names a test, and what reporters are told (``/safety``) is quoted there sentence by sentence."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
THREAT_MODEL = ROOT / "docs" / "threat-model.md"
RELIABILITY = ROOT / "docs" / "reliability.md"
NODE_ID = re.compile(r"tests/[\w/]+\.py::\w+(?:\[[^\]`\s]+\])?")
PARTIES = (
    "Telegram",
    "The bot host, while it runs",
    "The bot host's disk and its backups",
    "The analyst channel",
    "The analysts' machines",
    "The reporter's phone",
)


def named_tests(*docs: Path) -> list[str]:
    found: list[str] = []
    for doc in docs:
        for node in NODE_ID.findall(doc.read_text(encoding="utf-8")):
            if node not in found:
                found.append(node)
    return found


def sections(text: str) -> dict[str, str]:
    parts = re.split(r"^### (.+)$", text, flags=re.MULTILINE)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def test_every_test_the_threat_model_and_reliability_pages_name_exists() -> None:
    nodes = named_tests(THREAT_MODEL, RELIABILITY)
    assert len(nodes) >= 40, "the threat model names too few tests to be believed"
    # Exactly what a reader would run: pytest's own collection of those node ids.
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *nodes],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    collected = set(result.stdout.split())
    missing = [
        n for n in nodes if n not in collected and not any(c.startswith(n + "[") for c in collected)
    ]
    assert missing == [], f"named in the docs but not collected: {missing}"


def test_each_party_says_what_an_attacker_learns_cannot_learn_and_the_limits() -> None:
    found = sections(THREAT_MODEL.read_text(encoding="utf-8"))
    for party in PARTIES:
        assert party in found, f"no section for {party}"
        body = found[party]
        assert "learn" in body.split("**They cannot:**")[0], party
        assert "**They cannot:**" in body, party
        assert "**Limits.**" in body, party


def test_every_promise_names_the_test_that_checks_it() -> None:
    found = sections(THREAT_MODEL.read_text(encoding="utf-8"))
    for party in PARTIES:
        promises = found[party].split("**They cannot:**")[1].split("**Limits.**")[0]
        bullets = re.split(r"^- ", promises, flags=re.MULTILINE)[1:]
        assert bullets, party
        for bullet in bullets:
            assert NODE_ID.search(bullet) or "the same tests" in bullet, (party, bullet[:80])


def _safety_sentences(lang: str) -> list[str]:
    ui = yaml.safe_load((ROOT / "locales" / lang / "ui.yaml").read_text(encoding="utf-8"))
    text = f"{ui['ui.safety']}\n{ui['ui.safety.cover']}"  # cover mode adds its own part
    return [line.strip()[1:].strip() for line in text.splitlines() if line.strip().startswith("•")]


def test_what_reporters_are_told_is_quoted_in_the_threat_model() -> None:
    doc = " ".join(THREAT_MODEL.read_text(encoding="utf-8").split())
    bullets = _safety_sentences("en")
    assert len(bullets) >= 5
    for bullet in bullets:
        assert " ".join(bullet.split()) in doc, (
            f"/safety says something the model does not: {bullet}"
        )


def test_safety_says_the_same_number_of_things_in_every_language() -> None:
    counts = {lang: len(_safety_sentences(lang)) for lang in ("en", "ko", "ru")}
    assert len(set(counts.values())) == 1, counts
