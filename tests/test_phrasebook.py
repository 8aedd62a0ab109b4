"""The cover's phrasebook: the shipped content, and the rules `flows check` holds it to."""

from __future__ import annotations

import shutil
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from bot.cli.flows import register
from bot.phrasebook.loader import check_phrasebooks, load_phrasebook, read_forbidden
from bot.phrasebook.model import MIN_PHRASES, normalise_code
from bot.questionnaire.flow import BUTTON_LABEL_MAX, LANGUAGES
from bot.questionnaire.loader import FlowLoadError

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "flows" / "phrasebook.yaml"
LOCALES = ROOT / "locales"

TOPICS_THE_ISSUE_NAMES = ("work", "health", "shop", "transport", "numbers", "documents", "polite")


def test_shipped_phrasebook_is_big_enough_and_covers_every_topic_a_worker_needs() -> None:
    book = load_phrasebook(BOOK, LOCALES)
    assert book.phrase_count >= MIN_PHRASES
    assert tuple(t.id for t in book.spec.topics) == TOPICS_THE_ISSUE_NAMES
    for topic in book.spec.topics:
        assert sum(len(s.phrases) for s in topic.sections) >= 15, topic.id


def test_every_phrase_has_russian_a_hangul_guide_and_a_meaning_in_each_language() -> None:
    book = load_phrasebook(BOOK, LOCALES)
    for pid in book.spec.phrase_ids():
        for lang in LANGUAGES:
            assert book.text(lang, f"phrase.{pid}").strip()
        block = book.phrase_block("ko", pid)
        assert book.text("ru", f"phrase.{pid}") in block
        assert book.text("ko", f"phrase.{pid}.say") in block


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("약국", "ph_where"),
        ("аптека", "ph_where"),
        ("АПТЕКА", "ph_where"),
        ("려권", "docs_passport"),
        ("паспорт", "docs_my_passport"),
        ("pharmacy", "ph_where"),
        ("всё в порядке", "pol_fine"),
        ("все в порядке", "pol_fine"),
    ],
)
def test_search_finds_a_phrase_by_a_korean_or_russian_word(query: str, expected: str) -> None:
    book = load_phrasebook(BOOK, LOCALES)
    assert expected in book.search(query).phrase_ids


def test_search_for_nonsense_or_a_single_letter_finds_nothing() -> None:
    book = load_phrasebook(BOOK, LOCALES)
    assert book.search("zqxv purple 7781").phrase_ids == ()
    assert book.search("a").phrase_ids == ()


def test_flows_check_reports_the_phrasebook() -> None:
    root = click.Group("reportbot")
    register(root)
    result = CliRunner().invoke(root, ["flows", "check", str(ROOT / "flows")])
    assert result.exit_code == 0, result.output
    assert "phrasebook" in result.output


def _copy(tmp_path: Path) -> tuple[Path, Path]:
    flows = tmp_path / "flows"
    flows.mkdir()
    shutil.copy(BOOK, flows / "phrasebook.yaml")
    shutil.copytree(LOCALES, tmp_path / "locales")
    return flows, tmp_path / "locales"


def _set(path: Path, text_id: str, value: str) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    out = [f'{text_id}: "{value}"' if line.startswith(f"{text_id}:") else line for line in lines]
    assert out != lines
    path.write_text("\n".join(out) + "\n", encoding="utf-8")


def _problems(flows: Path, locales: Path) -> list[str]:
    problems, _ = check_phrasebooks([flows], locales)
    return [str(p) for p in problems]


def test_a_southern_spelling_in_a_korean_phrase_is_a_problem(tmp_path: Path) -> None:
    flows, locales = _copy(tmp_path)
    _set(locales / "ko" / "phrasebook.yaml", "phrase.docs_passport", "여권")
    found = _problems(flows, locales)
    assert any("phrase.docs_passport" in p and "Southern" in p for p in found), found


def test_a_word_the_cover_must_not_show_is_a_problem(tmp_path: Path) -> None:
    flows, locales = _copy(tmp_path)
    _set(locales / "en" / "phrasebook.yaml", "pb.search.none", "Report abuse here")
    found = _problems(flows, locales)
    assert any("pb.search.none" in p and "never show" in p for p in found), found


def test_a_missing_russian_phrase_is_a_problem_naming_it(tmp_path: Path) -> None:
    flows, locales = _copy(tmp_path)
    path = locales / "ru" / "phrasebook.yaml"
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text(
        "\n".join(x for x in lines if not x.startswith("phrase.ph_where:")) + "\n",
        encoding="utf-8",
    )
    found = _problems(flows, locales)
    assert any("phrase.ph_where" in p and "missing text in ru" in p for p in found), found
    with pytest.raises(FlowLoadError):
        load_phrasebook(flows / "phrasebook.yaml", locales)


def test_a_topic_button_longer_than_the_button_limit_is_a_problem(tmp_path: Path) -> None:
    flows, locales = _copy(tmp_path)
    _set(locales / "ru" / "phrasebook.yaml", "topic.work", "Р" * (BUTTON_LABEL_MAX + 1))
    found = _problems(flows, locales)
    assert any("topic.work" in p and "too long" in p for p in found), found


def test_a_pronunciation_guide_in_latin_letters_is_a_problem(tmp_path: Path) -> None:
    flows, locales = _copy(tmp_path)
    _set(locales / "ko" / "phrasebook.yaml", "phrase.ph_where.say", "gde apteka")
    found = _problems(flows, locales)
    assert any("phrase.ph_where.say" in p and "Hangul" in p for p in found), found


def test_the_glossary_keeps_a_forbidden_list_in_every_language() -> None:
    forbidden = read_forbidden(LOCALES)
    for lang in LANGUAGES:
        assert len(forbidden.words[lang]) >= 5
    assert forbidden.found_in("en", "Please REPORT it") == ["report"]


def test_entry_codes_normalise_like_a_deep_link_payload() -> None:
    assert normalise_code("Blue-river_42") == normalise_code("  blue RIVER 42 ")
    assert normalise_code("Ёлка") == normalise_code("елка")
