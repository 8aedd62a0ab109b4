"""What the shipped texts say: the default flow and the bot's own texts, in every language.

The loader's tests prove that broken flows are rejected; these prove properties of the content
itself: nothing identifying is asked, the languages match, the Korean is the North's, and the
safety promises name the controls that really exist. Files are read raw from the tree, so a
test fails on exactly what would ship.
"""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from bot.questionnaire.flow import LANGUAGES, FlowSpec, Kind

ROOT = Path(__file__).resolve().parent.parent
FLOW_FILE = ROOT / "flows" / "worker_report.yaml"
LOCALES = ROOT / "locales"
GLOSSARY_FILE = LOCALES / "glossary.yaml"
GLOSSARY_DOC = ROOT / "docs" / "glossary.md"

LANGUAGE_BUTTON_KO = "ui.language.ko"
"""The one text allowed to say 한국어: the language button reads "조선말 (한국어)" on purpose."""

# The ui ids every part of the bot relies on (the shared ui-texts contract; more may be added).
DOCUMENTED_UI_IDS = (
    [f"ui.language.{x}" for x in ("prompt", "ko", "ru", "en")]
    + [
        f"ui.button.{x}"
        for x in (
            "back",
            "skip",
            "exit",
            "help",
            "done",
            "continue",
            "agree",
            "decline",
            "submit",
            "edit",
            "dont_know",
            "earlier",
            "other",
            "send_what_i_answered",
            "discard",
            "kept_it",
        )
    ]
    + [f"ui.month.{m:02d}" for m in range(1, 13)]
    + [
        f"ui.error.{x}"
        for x in (
            "too_long",
            "empty",
            "not_a_number",
            "out_of_range",
            "not_a_choice",
            "bad_date",
            "wrong_media_kind",
            "too_many_files",
            "required",
            "expected_button",
            "expected_text",
            "file_too_large",
            "unsupported_input",
            "stale_button",
            "edited_message",
            "forwarded_message",
            "internal",
        )
    ]
    + [
        f"ui.prompt.{x}"
        for x in ("type_text", "type_number", "send_media", "choose_year", "choose_month")
    ]
    + ["ui.review.title", "ui.review.unanswered", "ui.review.hint"]
    + ["ui.done.thanks", "ui.done.receipt", "ui.done.come_back", "ui.ended.neutral"]
    + ["ui.cancel.question", "ui.cancel.sent", "ui.cancel.discarded", "ui.timeout.kept"]
    + ["ui.restart.kept", "ui.error.ended_button"]
    + ["ui.help", "ui.safety", "ui.group.private_only", "ui.group.private_only_channel"]
    + ["ui.flood.slow_down", "ui.flood.daily_limit"]
    + [f"ui.command.{x}" for x in ("start", "language", "help", "safety", "cancel", "panic")]
    + ["ui.bot.description", "ui.bot.short_description"]
)


# --- reading the files --------------------------------------------------------------------------


def _read_table(path: Path) -> dict[str, str]:
    """A flat text file; every value must be a string (YAML turns bare Yes/No into booleans)."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(raw, dict), f"{path}: not a mapping"
    table: dict[str, str] = {}
    for key, value in raw.items():
        assert isinstance(key, str), f"{path}: key {key!r} is not a string"
        assert isinstance(value, str), f"{path}: {key} is {value!r}, not text (quote it)"
        table[key] = value
    return table


def _spec() -> FlowSpec:
    """The structure as a second, ordinary YAML reader (PyYAML's safe_load) sees it: it must
    mean what the bot's strict reader makes of it (a bare ``no`` would be False here)."""
    try:
        return FlowSpec.model_validate(yaml.safe_load(FLOW_FILE.read_text(encoding="utf-8")))
    except ValidationError as exc:
        pytest.fail(
            f"{FLOW_FILE.name} reads differently in PyYAML's safe_load ({exc.error_count()} "
            "errors): run `reportbot flows check`, which names the line and the fix",
            pytrace=False,
        )


def _flow_texts(lang: str) -> dict[str, str]:
    return _read_table(LOCALES / lang / f"{_spec().id}.yaml")


def _ui_texts(lang: str) -> dict[str, str]:
    return _read_table(LOCALES / lang / "ui.yaml")


def _southern_forms() -> list[str]:
    raw = yaml.safe_load(GLOSSARY_FILE.read_text(encoding="utf-8"))
    forms: list[str] = []
    for term in raw["terms"]:
        if term.get("check", True):
            forms += [str(form) for form in term["south"]]
    return forms


# --- the checks, as functions, so that each can be shown to fail ---------------------------------

_IDENTIFYING: dict[str, list[str]] = {
    "en": [
        r"\bnames?\b",
        r"\bsurnames?\b",
        r"\bphone numbers?\b",
        r"\bpassport numbers?\b",
        r"\baddress(es)?\b",
        r"\bdate of birth\b",
        r"\bbirthday\b",
        r"\busernames?\b",
        r"\be-?mail\b",
    ],
    "ru": [
        r"\bим(я|ени|ена|ён)\b",
        r"фамили",
        r"номер\w*\s+телефон",
        r"номер\w*\s+паспорт",
        r"\bадрес",
        r"дат\w*\s+рождения",
        r"\bлогин",
        r"почт",
    ],
    "ko": ["이름", "성명", "전화번호", "려권번호", "여권번호", "주소", "생년월일", "생일"],
}
_NEGATION: dict[str, str] = {
    "en": r"\b(not|never|no|nobody|don't)\b",
    "ru": r"\b(не|нет|никогда|ни)\b",
    "ko": r"(않|마십시오|말고|아니라|없)",
}
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n|•")


def identifying_requests(lang: str, text: str) -> list[str]:
    """Sentences of ``text`` that mention an identifying detail without saying not to give it.

    "We never ask your name" and "write a role, not a name" pass; "Write your name" does not.
    """
    found = []
    for sentence in _SENTENCE_END.split(text):
        mentions = any(re.search(p, sentence, re.IGNORECASE) for p in _IDENTIFYING[lang])
        if mentions and not re.search(_NEGATION[lang], sentence, re.IGNORECASE):
            found.append(sentence.strip())
    return found


_IDENTIFYING_QID = re.compile(r"name|phone|tel|address|birth|user|mail|passport_n")


def southern_forms_in(text: str, forms: list[str]) -> list[str]:
    """The Southern forms (from the glossary) that occur in a Korean text."""
    return [form for form in forms if form in text]


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


# --- nothing identifying is asked ----------------------------------------------------------------


def test_no_question_id_names_an_identifying_detail() -> None:
    bad = [q.id for q in _spec().questions if _IDENTIFYING_QID.search(q.id)]
    assert bad == [], f"question ids that look like identifying fields: {bad}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_no_flow_text_asks_for_a_name_phone_number_or_address(lang: str) -> None:
    asked = {
        text_id: found
        for text_id, text in _flow_texts(lang).items()
        if (found := identifying_requests(lang, text))
    }
    assert asked == {}, f"{lang}: texts that ask for something identifying: {asked}"


@pytest.mark.parametrize(
    ("lang", "text"),
    [
        ("en", "Please write your name."),
        ("en", "What is your phone number?"),
        ("en", "Your passport number, if you know it."),
        ("ru", "Напишите ваше имя."),
        ("ru", "Какой у вас номер телефона?"),
        ("ru", "Ваш адрес в Москве?"),
        ("ko", "이름을 쓰십시오."),
        ("ko", "전화번호는 무엇입니까?"),
        ("ko", "사는 곳의 주소를 쓰십시오."),
    ],
)
def test_identifying_check_catches_a_question_that_asks_for_one(lang: str, text: str) -> None:
    assert identifying_requests(lang, text) == [text]


@pytest.mark.parametrize(
    ("lang", "text"),
    [
        ("en", "You are never asked your name."),
        ("ru", "Напишите должность, не имя:"),
        ("ko", "이름이나 전화번호는 쓰지 마십시오."),
    ],
)
def test_identifying_check_lets_a_warning_not_to_give_one_through(lang: str, text: str) -> None:
    assert identifying_requests(lang, text) == []


def test_every_question_but_consent_can_be_skipped() -> None:
    required = [q.id for q in _spec().questions if q.required and q.kind is not Kind.CONSENT]
    assert required == [], f"questions a reporter cannot skip: {required}"


def test_evidence_is_only_photos_and_voice_notes() -> None:
    # Documents and videos keep their location data; the default flow does not invite them.
    media = [q for q in _spec().questions if q.kind is Kind.MEDIA]
    assert media, "the default flow offers no place for evidence"
    assert all({str(k) for k in q.accept} <= {"photo", "voice"} for q in media)


# --- every language says everything --------------------------------------------------------


def test_flow_texts_have_exactly_the_flows_ids_in_every_language() -> None:
    spec = _spec()
    needed = {"flow.title"} | {t for q in spec.questions for t in q.text_ids()}
    for lang in LANGUAGES:
        have = set(_flow_texts(lang))
        assert have - needed == set(), f"{lang}: texts no question uses: {sorted(have - needed)}"
        assert needed - have == set(), f"{lang}: missing texts: {sorted(needed - have)}"


def test_ui_texts_have_the_same_ids_and_placeholders_in_every_language() -> None:
    tables = {lang: _ui_texts(lang) for lang in LANGUAGES}
    first = LANGUAGES[0]
    for lang in LANGUAGES[1:]:
        assert set(tables[lang]) == set(tables[first]), (
            f"ui ids differ between {first} and {lang}: "
            f"{sorted(set(tables[lang]) ^ set(tables[first]))}"
        )
        for text_id, text in tables[first].items():
            assert _placeholders(tables[lang][text_id]) == _placeholders(text), (
                f"{text_id}: placeholders differ between {first} and {lang}"
            )
    missing = [i for i in DOCUMENTED_UI_IDS if i not in tables[first]]
    assert missing == [], f"documented ui ids missing: {missing}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_no_text_is_blank(lang: str) -> None:
    blank = [k for k, v in {**_flow_texts(lang), **_ui_texts(lang)}.items() if not v.strip()]
    assert blank == []


# --- Korean in the North's standard ------------------------------------------------------------


def test_korean_texts_use_no_southern_form_from_the_glossary() -> None:
    forms = _southern_forms()
    texts = {**_flow_texts("ko"), **_ui_texts("ko")}
    found = {
        text_id: hits
        for text_id, text in texts.items()
        if text_id != LANGUAGE_BUTTON_KO and (hits := southern_forms_in(text, forms))
    }
    assert found == {}, f"Southern forms in Korean texts: {found}"


@pytest.mark.parametrize(
    "text",
    [
        "노동 조건에 대하여 묻습니다.",
        "한달 임금은 얼마입니까?",
        "여권은 누가 가지고있습니까?",
        "휴대폰을 검열합니까?",
        "나중에 연락해도 됩니까?",
        "한국어로 대답하십시오.",
    ],
)
def test_southern_form_check_catches_a_southern_text(text: str) -> None:
    assert southern_forms_in(text, _southern_forms()) != []


def test_the_glossary_document_lists_every_term_of_the_glossary() -> None:
    doc = GLOSSARY_DOC.read_text(encoding="utf-8")
    raw = yaml.safe_load(GLOSSARY_FILE.read_text(encoding="utf-8"))
    missing = [t["north"] for t in raw["terms"] if f"| {t['north']} |" not in doc]
    assert missing == [], f"docs/glossary.md lacks: {missing}"


# --- the safety promises name what really exists -------------------------------------------------

_TELEGRAM = {"en": "Telegram", "ru": "Telegram", "ko": "텔레그람"}


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("where", ["consent.prompt", "ui.safety"])
def test_consent_and_safety_say_telegram_reads_and_name_the_real_erase_controls(
    lang: str, where: str
) -> None:
    ui = _ui_texts(lang)
    text = {**_flow_texts(lang), **ui}[where]
    assert ui["ui.button.exit"] in text, f"{lang} {where}: does not name the quick exit button"
    assert "/panic" in text
    assert _TELEGRAM[lang] in text


@pytest.mark.parametrize("lang", LANGUAGES)
def test_prompts_name_the_buttons_they_tell_the_reporter_to_press(lang: str) -> None:
    texts, ui = _flow_texts(lang), _ui_texts(lang)
    assert ui["ui.button.done"] in ui["ui.prompt.choose_all"]
    for q in _spec().questions:
        if q.kind is Kind.MULTI:  # said once, by the hint on the first multi-choice (engine)
            assert ui["ui.button.done"] not in texts[f"{q.id}.prompt"], f"{lang} {q.id}: repeats"
        if q.kind is Kind.MEDIA:
            assert ui["ui.button.skip"] in texts[f"{q.id}.prompt"], f"{lang} {q.id}: no Skip"


_REVEALING = re.compile(
    r"report|answer|safe|exit|delet|erase|panic|보고|대답|안전|지우|지웠|отч[её]т|ответ|удал|стер",
    re.IGNORECASE,
)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_neutral_line_after_quick_exit_looks_harmless(lang: str) -> None:
    line = _ui_texts(lang)["ui.ended.neutral"]
    assert len(line) <= 12, f"{lang}: {line!r} is long enough to say something"
    assert not _REVEALING.search(line), f"{lang}: {line!r} hints at what happened"


_COMPELLED = {
    "en": ("keeps account data", "compel"),
    "ru": ("хранит данные аккаунта", "заставить"),
    "ko": ("계정의 자료", "강요하면"),
}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_safety_says_telegram_keeps_account_data_and_can_be_made_to_hand_it_over(
    lang: str,
) -> None:
    text = _ui_texts(lang)["ui.safety"]
    kept, compelled = _COMPELLED[lang]
    assert kept in text, f"{lang}: /safety does not say Telegram keeps account data"
    assert compelled in text, f"{lang}: /safety does not say Telegram can be compelled"


# --- questions only when they make sense (issue 14.4) ---------------------------------------------

# (follow-up, earlier question, answers after which the follow-up is meaningless)
_CONTRADICTIONS = [
    ("pay_when", "pay_received", ["nothing"]),
    ("punish_by", "punish", ["none"]),
    ("injury_kind", "injured", ["nobody"]),
    ("injury_care", "injured", ["nobody"]),
    ("contact_when", "contact", ["no_contact"]),
    ("danger_note", "danger", ["not_now", "dont_know"]),
]


@pytest.mark.parametrize(("follow_up", "parent", "meaningless"), _CONTRADICTIONS)
def test_no_follow_up_is_asked_after_an_answer_that_makes_it_meaningless(
    follow_up: str, parent: str, meaningless: list[str]
) -> None:
    from bot.questionnaire.conditions import evaluate

    spec = _spec()
    kinds = {q.id: q.kind for q in spec.questions}
    question = next(q for q in spec.questions if q.id == follow_up)
    assert question.when is not None, f"{follow_up} is always asked"
    parent_kind = kinds[parent]
    for cid in meaningless:
        answer: dict[str, object] = (
            {"choices": [cid]} if parent_kind is Kind.MULTI else {"choice": cid}
        )
        assert not evaluate(question.when, kinds, {parent: answer}), (follow_up, cid)


# --- word choices (issue 14.5): locales/glossary.yaml is the one place they are written --------


def _word_choices() -> list[dict[str, object]]:
    data = yaml.safe_load(GLOSSARY_FILE.read_text(encoding="utf-8"))
    choices = data["word_choices"]
    assert isinstance(choices, list)
    return choices


def avoided_words_in(
    texts: dict[str, str], lang: str, choices: list[dict[str, object]]
) -> list[tuple[str, str]]:
    """(text id, avoided form) for every text using a form the glossary says to avoid."""
    found = []
    for choice in choices:
        avoid = choice.get("avoid") or {}
        exceptions = choice.get("except") or {}
        assert isinstance(avoid, dict)
        assert isinstance(exceptions, dict)
        allowed = exceptions.get(lang, [])
        for form in avoid.get(lang, []):
            found += [
                (tid, form) for tid, text in texts.items() if form in text and tid not in allowed
            ]
    return found


def test_every_word_choice_says_why() -> None:
    for choice in _word_choices():
        assert str(choice.get("reason", "")).strip(), choice.get("meaning")
        assert choice.get("avoid"), choice.get("meaning")


@pytest.mark.parametrize("lang", ["ko", "ru"])
def test_texts_keep_the_glossarys_word_choices(lang: str) -> None:
    texts = {**_flow_texts(lang), **_ui_texts(lang)}
    assert avoided_words_in(texts, lang, _word_choices()) == []


@pytest.mark.parametrize(
    ("lang", "text"),
    [
        ("ko", "전에 보고하였습니다"),
        ("ko", "당신의 번호입니다"),
        ("ko", "《충성》의 명목으로"),
        ("ru", "Новое сообщение"),
        ("ru", "Следит надзиратель"),
    ],
)
def test_word_choice_check_catches_the_old_wording(lang: str, text: str) -> None:
    assert avoided_words_in({"x.prompt": text}, lang, _word_choices()) != []


def test_the_report_is_never_called_by_the_word_for_informing() -> None:
    """보고 appears only where the flow means informing on others."""
    texts = {**_flow_texts("ko"), **_ui_texts("ko")}
    assert [tid for tid, text in texts.items() if "보고" in text] == ["watched.choice.informers"]
