"""What the bot says around an erase and after a restart must not tell a minder that the phone
was used to report: once cover mode (docs/cover.md) lands, these lines can be on the screen of a
phone that otherwise shows a phrasebook. The words come from locales/glossary.yaml
``cover_forbidden`` (compared case-folded, as substrings, as cover mode compares them)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.bot_support import shipped_ui

GLOSSARY = Path(__file__).resolve().parents[1] / "locales" / "glossary.yaml"

NEUTRAL_LINES = ("ui.restart.kept", "ui.timeout.kept", "ui.ended.neutral", "ui.cancel.discarded")
"""Lines shown after a restart, an idle timeout, a quick exit or /panic, and a discard."""


def _forbidden() -> dict[str, list[str]]:
    raw = yaml.safe_load(GLOSSARY.read_text(encoding="utf-8"))
    words: dict[str, list[str]] = raw["cover_forbidden"]
    return words


@pytest.mark.parametrize("lang", ["ko", "ru", "en"])
def test_restart_timeout_and_exit_lines_name_no_report_and_no_analyst(lang: str) -> None:
    ui = shipped_ui()[lang]
    words = _forbidden()[lang]
    assert words, "the glossary lists no forbidden word for this language"
    found = {
        text_id: [w for w in words if w.casefold() in ui[text_id].casefold()]
        for text_id in NEUTRAL_LINES
    }
    assert {k: v for k, v in found.items() if v} == {}


@pytest.mark.parametrize("lang", ["ko", "ru", "en"])
def test_the_restart_notice_still_says_the_answers_were_kept_and_how_to_go_on(lang: str) -> None:
    """Neutral is not silent (issue 12.3): kept, and /start begins anew."""
    text = shipped_ui()[lang]["ui.restart.kept"]
    kept = {"ko": "보관", "ru": "сохранены", "en": "kept"}[lang]
    assert kept in text
    assert "/start" in text
