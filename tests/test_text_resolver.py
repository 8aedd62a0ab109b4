"""One text resolver, one fallback rule, for the Telegram renderer and the terminal demo."""

from __future__ import annotations

from bot.questionnaire.flow import LANGUAGES
from bot.terminal.demo import Texts
from bot.texts.resolver import FALLBACK_LANG, TextResolver
from handlers.render import Renderer
from tests.bot_support import shipped_flow, shipped_ui

FLOW = {
    "ko": {"q.prompt": "질문", "q.choice.a": "가"},
    "en": {"q.prompt": "Question", "q.choice.a": "A", "q.help": "Help", "q.choice.other": "Else"},
}
UI = {
    "ko": {"ui.button.other": "기타", "ui.prompt.type_number": "{min}부터 {max}까지"},
    "en": {"ui.button.other": "Other", "ui.button.skip": "Skip", "ui.prompt.type_number": "x"},
}


def test_a_missing_text_falls_back_to_english_then_shows_its_id() -> None:
    texts = TextResolver(FLOW, UI)
    assert FALLBACK_LANG == "en"
    assert texts.get("ko", "q.prompt") == "질문"
    assert texts.get("ko", "q.help") == "Help"  # not in ko: English
    assert texts.get("ru", "q.prompt") == "Question"  # no ru table at all: English
    assert texts.get("ko", "q.nowhere") == "q.nowhere"  # in no language: the id, visibly
    assert texts.get("ko", "ui.button.skip") == "Skip"
    assert texts.get("ko", "ui.nowhere") == "ui.nowhere"


def test_ui_ids_are_read_from_ui_texts_and_others_from_the_flow() -> None:
    texts = TextResolver({"en": {"ui.trap": "flow"}}, {"en": {"q.trap": "ui"}})
    assert texts.get("en", "ui.trap") == "ui.trap"
    assert texts.get("en", "q.trap") == "q.trap"
    assert texts.ui("en", "q.trap") == "ui"


def test_placeholders_are_filled_and_unknown_ones_left_as_written() -> None:
    texts = TextResolver(FLOW, UI)
    assert texts.get("ko", "ui.prompt.type_number", min=0, max=24) == "0부터 24까지"
    assert texts.get("ko", "ui.prompt.type_number", min=0) == "0부터 {max}까지"


def test_the_other_button_reads_its_own_label_or_the_shared_one() -> None:
    texts = TextResolver(FLOW, UI)
    assert texts.choice_label("ko", "q", "a") == "가"
    assert texts.choice_label("en", "q", "other") == "Else"
    assert texts.choice_label("ko", "q", "other") == "Else"  # own label, by the fallback
    assert texts.choice_label("ko", "r", "other") == "기타"


def test_telegram_and_terminal_show_the_same_words_for_every_text() -> None:
    flow, ui = shipped_flow(), shipped_ui()
    renderer, terminal = Renderer(flow, ui), Texts(flow, ui)
    for lang in LANGUAGES:
        ids = [*flow.texts[lang], *ui[lang]]
        for text_id in ids:
            assert renderer.text(lang, text_id) == terminal.get(lang, text_id), (lang, text_id)
        for q in flow.questions:
            for cid in [*q.choices, "other"]:
                assert renderer.texts.choice_label(lang, q.id, cid) == terminal.choice_label(
                    lang, q.id, cid
                )


def test_both_transports_fall_back_the_same_way_on_a_half_edited_locale() -> None:
    flow, ui = shipped_flow(), shipped_ui()
    gappy = {lang: dict(table) for lang, table in ui.items()}
    del gappy["ko"]["ui.button.skip"]
    renderer, terminal = Renderer(flow, gappy), Texts(flow, gappy)
    english = ui["en"]["ui.button.skip"]
    assert renderer.ui_text("ko", "ui.button.skip") == english
    assert terminal.get("ko", "ui.button.skip") == english
