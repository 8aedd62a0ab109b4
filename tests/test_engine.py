"""Unit tests of the questionnaire engine, each named after the failure it blocks."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from bot.questionnaire.engine import (
    Accepted,
    Back,
    Cancel,
    Cancelled,
    Choose,
    Done,
    Dropped,
    Edit,
    EndedEarly,
    Event,
    Finished,
    Interrupted,
    Invalid,
    Media,
    Output,
    Phase,
    Prompt,
    Restart,
    Review,
    Skip,
    Stale,
    Start,
    State,
    Submit,
    Text,
    Timeout,
    initial_state,
    normalize_text,
    step,
)
from bot.questionnaire.flow import Flow, FlowSpec, MediaKind
from tests.engine_support import THIS_YEAR, load_fixture_flow, run

FLOW = load_fixture_flow()

TO_SITE: list[Event] = [Start(), Choose("intro", "continue"), Choose("consent", "agree")]
BUILD_TO_REVIEW: list[Event] = [
    *TO_SITE,
    Choose("site", "build"),
    Text("height", "12"),
    Choose("fell", "fall_no"),
    Choose("city", "moscow"),
    Choose("since", "unknown"),
    Choose("stop", "go_on"),
    Done("photos"),
    Choose("no_photos", "continue"),
    Choose("contact", "c_no"),
]


def go(events: Sequence[Event], state: State | None = None) -> tuple[State, list[Output]]:
    return run(FLOW, events, state)


def last_prompt(outputs: Sequence[Output]) -> Prompt:
    prompts = [o for o in outputs if isinstance(o, Prompt)]
    assert prompts, f"no prompt in {outputs}"
    return prompts[-1]


def only(outputs: Sequence[Output], kind: type[Output]) -> list[Output]:
    return [o for o in outputs if isinstance(o, kind)]


def invalid_code(outputs: Sequence[Output]) -> str:
    found = [o for o in outputs if isinstance(o, Invalid)]
    assert len(found) == 1, outputs
    return found[0].code


def at(qid: str, events: Sequence[Event] = ()) -> State:
    """A state asking ``qid`` on the build branch (after ``events`` if given)."""
    path: list[Event] = list(events) or list(BUILD_TO_REVIEW)
    state = initial_state("en", THIS_YEAR)
    for event in path:
        if state.current == qid:
            return state
        state, _ = step(FLOW, state, event)
    assert state.current == qid, f"never reached {qid}"
    return state


def finished(state: State) -> dict[str, object]:
    state, out = step(FLOW, state, Submit())
    done = only(out, Finished)
    assert len(done) == 1, out
    assert isinstance(done[0], Finished)
    return dict(done[0].answers)


# --- the path and the branches ----------------------------------------------------------------


def test_whole_build_branch_reaches_review_and_finishes_with_ids_not_labels() -> None:
    state, out = go(BUILD_TO_REVIEW)
    assert state.phase is Phase.REVIEW
    review = only(out, Review)[-1]
    assert isinstance(review, Review)
    assert [i.qid for i in review.items] == [
        "site",
        "height",
        "fell",
        "city",
        "since",
        "stop",
        "photos",
        "contact",
    ]
    assert finished(state) == {
        "consent": {"consent": True},
        "site": {"choice": "build"},
        "height": {"number": 12},
        "fell": {"choice": "fall_no"},
        "city": {"choice": "moscow"},
        "since": {"unknown": True},
        "stop": {"choice": "go_on"},
        "contact": {"choice": "c_no"},
    }


def test_question_of_untaken_branch_is_never_prompted() -> None:
    _, out = go(BUILD_TO_REVIEW)
    asked = {o.qid for o in out if isinstance(o, Prompt)}
    assert "machines" not in asked
    assert "press_hurt" not in asked
    assert "hurt_note" not in asked  # fell = fall_no
    assert "how" not in asked  # contact = c_no


def test_changing_site_drops_answers_of_the_abandoned_branch_at_once() -> None:
    state, _ = go(BUILD_TO_REVIEW)
    state, out = go([Edit("site"), Choose("site", "sew")], state)
    assert Dropped("height") in out
    assert Dropped("fell") in out
    assert state.answer("height") is None
    assert state.answer("fell") is None
    assert last_prompt(out).qid == "machines"  # the newly opened branch is asked


def test_abandoned_branch_answer_never_reaches_finished() -> None:
    state, _ = go(BUILD_TO_REVIEW)
    state, _ = go(
        [Edit("site"), Choose("site", "code"), Choose("machines", "screen"), Done("machines")],
        state,
    )
    assert state.phase is Phase.REVIEW
    answers = finished(state)
    assert "height" not in answers
    assert "fell" not in answers
    assert answers["machines"] == {"choices": ["screen"]}


def test_going_back_over_a_branch_then_changing_it_drops_what_was_answered_there() -> None:
    state = at("city")
    state, out = go([Back(), Back(), Back()], state)
    assert state.current == "site"
    assert last_prompt(out).answer == {"choice": "build"}  # kept as preselection
    state, out = go([Choose("site", "sew")], state)
    assert {o.qid for o in out if isinstance(o, Dropped)} == {"height", "fell"}
    assert state.current == "machines"


def test_back_keeps_the_answer_and_done_keeps_it_unchanged() -> None:
    state = at("city")
    state, out = go([Back()], state)
    prompt = last_prompt(out)
    assert prompt.qid == "fell"
    assert prompt.selected == ("fall_no",)
    assert prompt.can_done
    state, out = go([Done("fell")], state)
    assert state.current == "city"
    assert not only(out, Accepted)  # nothing changed: nothing to store again


def test_back_at_the_first_question_is_stale() -> None:
    state, out = go([Start()])
    assert not last_prompt(out).can_back
    new, out = step(FLOW, state, Back())
    assert out == [Stale()]
    assert new == state


def test_reanswering_with_a_new_value_replaces_the_slot_without_a_drop() -> None:
    state = at("city")
    state, out = go([Back(), Choose("fell", "fall_yes")], state)
    assert Accepted("fell", {"choice": "fall_yes"}) in out
    assert not only(out, Dropped)


# --- required, skip, end_if, consent ----------------------------------------------------------


def test_required_question_cannot_be_skipped() -> None:
    state = at("site")
    new, out = step(FLOW, state, Skip("site"))
    assert invalid_code(out) == "required"
    assert new == state
    state = at("height")
    _, out = step(FLOW, state, Skip("height"))
    assert invalid_code(out) == "required"


def test_skipping_an_earlier_answer_drops_it() -> None:
    state = at("city")
    state, out = go([Back(), Skip("fell")], state)
    assert Dropped("fell") in out
    assert state.answer("fell") is None


def test_edit_that_opens_a_required_question_cannot_be_submitted_unanswered() -> None:
    state, _ = go(BUILD_TO_REVIEW)
    # The edit opens machines, then press_hurt, then the required hurt_note; leaving the edit
    # with Back before hurt_note is answered must not let Submit finish without it.
    state, out = go(
        [
            Edit("site"),
            Choose("site", "sew"),
            Choose("machines", "press"),
            Done("machines"),
            Text("press_hurt", "cut finger"),
        ],
        state,
    )
    assert last_prompt(out).qid == "hurt_note"
    state, out = go([Back()], state)
    assert state.phase is Phase.REVIEW
    state, out = step(FLOW, state, Submit())
    assert Invalid("hurt_note", "required") in out
    assert not only(out, Finished)
    assert last_prompt(out).qid == "hurt_note"
    state, out = go([Text("hurt_note", "it bled")], state)
    assert state.phase is Phase.REVIEW
    answers = finished(state)
    assert answers["hurt_note"] == {"text": "it bled"}
    assert answers["press_hurt"] == {"text": "cut finger"}


def test_end_if_ends_early_with_the_answers_so_far() -> None:
    state = at("stop")
    state, out = step(FLOW, state, Choose("stop", "stop_here"))
    assert state.phase is Phase.ENDED
    ended = only(out, EndedEarly)
    assert len(ended) == 1
    assert isinstance(ended[0], EndedEarly)
    assert ended[0].end_id == "stop.end"
    assert ended[0].answers["stop"] == {"choice": "stop_here"}
    assert set(ended[0].answers) == {"consent", "site", "height", "fell", "city", "since", "stop"}


def test_end_if_reached_by_going_back_drops_the_answers_after_it() -> None:
    state, _ = go(BUILD_TO_REVIEW)
    state, out = go([Edit("stop"), Choose("stop", "stop_here")], state)
    assert Dropped("contact") in out
    ended = only(out, EndedEarly)
    assert len(ended) == 1
    assert isinstance(ended[0], EndedEarly)
    assert "contact" not in ended[0].answers


def test_declined_consent_keeps_nothing() -> None:
    state, out = go([*TO_SITE[:2], Choose("consent", "decline")])
    assert state.phase is Phase.ENDED
    assert state.answers == ()
    ended = only(out, EndedEarly)
    assert ended == [EndedEarly("consent", "ui.consent.declined", {})]


def test_declining_consent_after_going_back_drops_every_stored_answer() -> None:
    state = at("height")
    state, out = go([Back(), Back(), Choose("consent", "decline")], state)
    assert {o.qid for o in out if isinstance(o, Dropped)} == {"consent", "site"}
    assert state.answers == ()


# --- review and edit --------------------------------------------------------------------------


def test_edit_from_review_reasks_only_that_question_then_returns_to_review() -> None:
    state, _ = go(BUILD_TO_REVIEW)
    state, out = go([Edit("city")], state)
    assert last_prompt(out).answer == {"choice": "moscow"}
    state, out = go([Text("city", "Kazan district")], state)
    assert state.phase is Phase.REVIEW
    assert Accepted("city", {"text": "Kazan district"}) in out
    assert finished(state)["city"] == {"text": "Kazan district"}


def test_back_during_an_edit_returns_to_review_unchanged() -> None:
    state, _ = go(BUILD_TO_REVIEW)
    before = state.answers
    state, out = go([Edit("city"), Back()], state)
    assert state.phase is Phase.REVIEW
    assert state.answers == before
    assert only(out, Review)


def test_edit_of_a_question_not_on_the_review_screen_is_stale() -> None:
    state, _ = go(BUILD_TO_REVIEW)
    for qid in ("machines", "consent", "intro", "nope"):
        new, out = step(FLOW, state, Edit(qid))
        assert out == [Stale()]
        assert new == state


def test_back_from_review_goes_to_the_last_question() -> None:
    state, _ = go(BUILD_TO_REVIEW)
    state, out = step(FLOW, state, Back())
    assert state.phase is Phase.ASKING
    assert last_prompt(out).qid == "contact"


# --- stale and wrong-phase events -------------------------------------------------------------


@pytest.mark.parametrize(
    "event",
    [
        Choose("city", "moscow"),  # an old button of another question
        Text("intro", "hello"),
        Done("photos"),
        Skip("city"),
        Edit("site"),  # not on the review screen
        Submit(),
        Media("photos", MediaKind.PHOTO, "r1"),
    ],
)
def test_event_for_another_question_or_phase_changes_nothing(event: Event) -> None:
    state = at("height")
    new, out = step(FLOW, state, event)
    assert out == [Stale()]
    assert new == state


def test_events_after_finish_are_stale_and_restart_begins_again() -> None:
    state, _ = go(BUILD_TO_REVIEW)
    state, _ = step(FLOW, state, Submit())
    assert state.phase is Phase.FINISHED
    for event in (Submit(), Back(), Choose("site", "build"), Cancel(), Timeout(), Start()):
        new, out = step(FLOW, state, event)
        assert out == [Stale()]
        assert new == state
    state, out = step(FLOW, state, Restart())
    assert state.answers == ()
    assert not only(out, Dropped)  # the finished report belongs to the transport now
    assert last_prompt(out).qid == "intro"


def test_restart_of_a_running_report_drops_its_stored_answers() -> None:
    state = at("city")
    state, out = step(FLOW, state, Restart())
    assert {o.qid for o in out if isinstance(o, Dropped)} == {"consent", "site", "height", "fell"}
    assert state.answers == ()
    assert last_prompt(out).qid == "intro"


def test_cancel_hands_back_the_answers_so_far() -> None:
    state = at("city")
    state, out = step(FLOW, state, Cancel())
    assert state.phase is Phase.CANCELLED
    assert out == [
        Cancelled(
            {
                "consent": {"consent": True},
                "site": {"choice": "build"},
                "height": {"number": 12},
                "fell": {"choice": "fall_no"},
            }
        )
    ]


def test_timeout_keeps_the_answers_so_far() -> None:
    state = at("fell")
    state, out = step(FLOW, state, Timeout())
    assert state.phase is Phase.INTERRUPTED
    assert out == [
        Interrupted(
            {"consent": {"consent": True}, "site": {"choice": "build"}, "height": {"number": 12}}
        )
    ]


def test_start_while_asking_shows_the_current_question_again() -> None:
    state = at("fell")
    new, out = step(FLOW, state, Start())
    assert new == state
    assert last_prompt(out).qid == "fell"


def test_state_from_a_changed_flow_is_interrupted_not_crashed() -> None:
    state = at("fell")
    smaller = Flow(
        spec=FlowSpec(id="branchy", questions=[FLOW.question("intro")]),
        texts={lang: {"flow.title": "t", "intro.prompt": "p"} for lang in ("ko", "ru", "en")},
    )
    new, out = step(smaller, state, Choose("fell", "fall_no"))
    assert new.phase is Phase.INTERRUPTED
    assert out == [Interrupted({})]


# --- validation of what reporters type --------------------------------------------------------


def test_bidi_override_and_zero_width_characters_never_leave_the_engine() -> None:
    state = at("city")
    sneaky = "\u202eKa\u200bzan\u2066 \ufeffcity\u2069\u200f\x07"
    _, out = step(FLOW, state, Text("city", sneaky))
    assert Accepted("city", {"text": "Kazan city"}) in out


def test_decomposed_hangul_is_stored_composed() -> None:
    state = at("city")
    decomposed = "\u1111\u1167\u11bc\u110b\u1163\u11bc"  # 평양 as jamo
    _, out = step(FLOW, state, Text("city", decomposed))
    assert Accepted("city", {"text": "평양"}) in out


def test_text_only_of_invisible_characters_is_empty() -> None:
    state = at("city")
    _, out = step(FLOW, state, Text("city", " \u200b\u202e\n\t "))
    assert invalid_code(out) == "empty"


def test_text_over_max_length_after_normalisation_is_rejected() -> None:
    state = at("city")  # max_length 40
    _, out = step(FLOW, state, Text("city", "x" * 40 + "\u200b" * 20))
    assert Accepted("city", {"text": "x" * 40}) in out
    new, out = step(FLOW, state, Text("city", "x" * 41))
    assert invalid_code(out) == "too_long"
    assert new == state


def test_huge_text_is_too_long_without_being_normalised() -> None:
    state = at("city")
    new, out = step(FLOW, state, Text("city", "\u200b" * 100_000 + "Kazan"))
    assert invalid_code(out) == "too_long"
    assert new == state


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("twelve", "not_a_number"),
        ("0", "out_of_range"),
        ("201", "out_of_range"),
        ("-5", "out_of_range"),
        ("9" * 5000, "out_of_range"),  # must not hit int()'s digit limit
        ("1.5", "not_a_number"),
        ("", "empty"),
    ],
)
def test_number_outside_the_range_or_not_a_number_is_rejected(typed: str, code: str) -> None:
    state = at("height")
    new, out = step(FLOW, state, Text("height", typed))
    assert invalid_code(out) == code
    assert new == state


@pytest.mark.parametrize(("typed", "value"), [("１２", 12), (" 12 ", 12), ("+7", 7), ("1 0", 10)])
def test_number_typed_with_fullwidth_digits_or_spaces_is_understood(typed: str, value: int) -> None:
    state = at("height")
    _, out = step(FLOW, state, Text("height", typed))
    assert Accepted("height", {"number": value}) in out


def test_choice_id_not_offered_is_rejected() -> None:
    state = at("site")
    for cid in ("fall_yes", "BUILD", "", "build "):
        new, out = step(FLOW, state, Choose("site", cid))
        assert invalid_code(out) == "not_a_choice"
        assert new == state


def test_typed_text_on_a_question_with_other_is_taken_as_other() -> None:
    state = at("site")
    _, out = step(FLOW, state, Text("site", "  fish farm "))
    assert Accepted("site", {"choice": "other", "text": "fish farm"}) in out


def test_typed_text_on_a_buttons_only_question_asks_for_a_button() -> None:
    state = at("fell")
    _, out = step(FLOW, state, Text("fell", "yes"))
    assert invalid_code(out) == "expected_button"


def test_button_on_a_number_question_asks_for_text() -> None:
    state = at("height")
    _, out = step(FLOW, state, Choose("height", "12"))
    assert invalid_code(out) == "expected_text"


def test_other_button_asks_for_the_text_and_back_returns_to_the_buttons() -> None:
    state = at("site")
    state, out = step(FLOW, state, Choose("site", "other"))
    prompt = last_prompt(out)
    assert (prompt.sub_step, prompt.prompt_id, prompt.choices) == ("other", "site.other", ())
    state, out = step(FLOW, state, Back())
    assert last_prompt(out).sub_step is None
    assert state.current == "site"


def test_multi_other_text_is_kept_and_unticking_other_drops_it() -> None:
    state, _ = go([*TO_SITE, Choose("site", "code")])
    state, out = go([Choose("machines", "needle"), Choose("machines", "other")], state)
    assert last_prompt(out).sub_step == "other"
    state, out = go([Text("machines", "loom")], state)
    assert last_prompt(out).selected == ("needle", "other")
    state, out = go([Choose("machines", "other"), Choose("machines", "other")], state)
    state, out = go([Text("machines", "lathe"), Done("machines")], state)
    assert Accepted("machines", {"choices": ["needle", "other"], "text": "lathe"}) in out
    state, _ = go([Back()], state)
    state, out = go([Choose("machines", "other"), Done("machines")], state)
    assert Accepted("machines", {"choices": ["needle"]}) in out


def test_multi_selection_order_does_not_depend_on_click_order() -> None:
    base, _ = go([*TO_SITE, Choose("site", "code")])
    one, _ = go([Choose("machines", "screen"), Choose("machines", "needle")], base)
    two, _ = go([Choose("machines", "needle"), Choose("machines", "screen")], base)
    assert one == two


def test_empty_multi_done_on_optional_question_is_a_skip() -> None:
    state, _ = go([*TO_SITE, Choose("site", "code")])
    state, out = go(
        [Choose("machines", "press"), Choose("machines", "press"), Done("machines")], state
    )
    assert not only(out, Accepted)
    assert state.current == "city"


# --- dates ------------------------------------------------------------------------------------


def test_date_year_then_month_buttons() -> None:
    state = at("since")
    prompt = last_prompt(step(FLOW, initial_state("en", THIS_YEAR), Start())[1])
    assert prompt.qid == "intro"
    state, out = step(FLOW, state, Choose("since", "y2024"))
    prompt = last_prompt(out)
    assert prompt.sub_step == "month"
    assert [c.cid for c in prompt.choices] == [f"m{m:02d}" for m in range(1, 13)] + ["unknown"]
    state, out = step(FLOW, state, Choose("since", "m03"))
    assert Accepted("since", {"year": 2024, "month": 3}) in out
    assert state.current == "recent"  # since in [2024, 2025]


def test_date_year_buttons_show_recent_years_and_page_back_to_min_year() -> None:
    state = at("since")
    prompt = last_prompt(step(FLOW, state, Start())[1])
    labels = [c.literal for c in prompt.choices if c.literal]
    assert labels == [str(y) for y in range(THIS_YEAR, THIS_YEAR - 8, -1)]
    assert [c.cid for c in prompt.choices[-2:]] == ["earlier", "unknown"]
    pages = [labels]
    while any(c.cid == "earlier" for c in prompt.choices):
        state, out = step(FLOW, state, Choose("since", "earlier"))
        prompt = last_prompt(out)
        pages.append([c.literal for c in prompt.choices if c.literal])
    assert [y for page in pages for y in page] == [str(y) for y in range(THIS_YEAR, 2004, -1)]
    _, out = step(FLOW, state, Choose("since", "earlier"))
    assert invalid_code(out) == "not_a_choice"


@pytest.mark.parametrize(
    ("typed", "answer"),
    [
        ("2024-03", {"year": 2024, "month": 3}),
        ("03.2024", {"year": 2024, "month": 3}),
        ("2019/11", {"year": 2019, "month": 11}),
        ("２０２０－０１", {"year": 2020, "month": 1}),
    ],
)
def test_typed_dates_are_understood(typed: str, answer: dict[str, int]) -> None:
    state = at("since")
    _, out = step(FLOW, state, Text("since", typed))
    assert Accepted("since", dict(answer)) in out


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("2024-13", "bad_date"),
        ("last spring", "bad_date"),
        ("1999", "out_of_range"),  # before min_year
        (str(THIS_YEAR + 1), "out_of_range"),  # the future
        ("y2024", "bad_date"),
    ],
)
def test_impossible_dates_are_rejected(typed: str, code: str) -> None:
    state = at("since")
    new, out = step(FLOW, state, Text("since", typed))
    assert invalid_code(out) == code
    assert new == state


def test_year_button_outside_the_range_is_rejected() -> None:
    state = at("since")
    for cid in ("y2004", f"y{THIS_YEAR + 1}", "m03", "y20x4"):
        _, out = step(FLOW, state, Choose("since", cid))
        assert invalid_code(out) == "not_a_choice"


def test_typed_year_then_month_and_unknown_month() -> None:
    state = at("since")
    state, out = step(FLOW, state, Text("since", "2021"))
    assert last_prompt(out).sub_step == "month"
    state, out = step(FLOW, state, Text("since", "7"))
    assert Accepted("since", {"year": 2021, "month": 7}) in out
    state, _ = step(FLOW, state, Back())
    state, _ = step(FLOW, state, Choose("since", "y2020"))
    _, out = step(FLOW, state, Choose("since", "unknown"))
    assert Accepted("since", {"year": 2020, "month": None}) in out


# --- media ------------------------------------------------------------------------------------


def test_media_of_a_kind_not_accepted_is_rejected() -> None:
    state = at("photos")
    new, out = step(FLOW, state, Media("photos", MediaKind.VIDEO, "r1"))
    assert invalid_code(out) == "wrong_media_kind"
    assert new == state


def test_more_files_than_max_files_are_rejected() -> None:
    state = at("photos")
    state, _ = go(
        [Media("photos", MediaKind.PHOTO, "r1"), Media("photos", MediaKind.VOICE, "r2")], state
    )
    new, out = step(FLOW, state, Media("photos", MediaKind.PHOTO, "r3"))
    assert invalid_code(out) == "too_many_files"
    assert new == state
    state, out = step(FLOW, state, Done("photos"))
    assert (
        Accepted(
            "photos", {"media": [{"kind": "photo", "ref": "r1"}, {"kind": "voice", "ref": "r2"}]}
        )
        in out
    )
    assert state.current == "contact"  # no_photos is not taken once photos are answered


def test_text_on_a_media_question_is_rejected() -> None:
    state = at("photos")
    _, out = step(FLOW, state, Text("photos", "here"))
    assert invalid_code(out) == "wrong_media_kind"


def test_media_on_a_text_question_asks_for_text() -> None:
    state = at("height")
    _, out = step(FLOW, state, Media("height", MediaKind.PHOTO, "r1"))
    assert invalid_code(out) == "expected_text"


# --- robustness -------------------------------------------------------------------------------


def test_wrongly_typed_event_fields_from_a_buggy_transport_do_not_raise() -> None:
    state = at("site")
    bogus: list[object] = [
        Choose("site", None),  # type: ignore[arg-type]  # the point: a wrong type at runtime
        Text("site", b"bytes"),  # type: ignore[arg-type]  # same
        Media("photos", "gif", None),  # type: ignore[arg-type]  # same
        Choose(["site"], "build"),  # type: ignore[arg-type]  # same
        "not an event",
        None,
    ]
    for event in bogus:
        new, out = step(FLOW, state, event)  # type: ignore[arg-type]  # same
        assert out, event
        assert new == state


def test_normalisation_is_idempotent_and_keeps_newlines() -> None:
    text = "line one\r\nline two\u2028\n\n\n\nline  three\t!"
    once = normalize_text(text)
    assert once == "line one\nline two\n\nline  three !"
    assert normalize_text(once) == once


# --- how to choose several is said once ---------------------------------------------------------


def test_how_to_choose_several_is_said_on_the_first_multi_choice_only() -> None:
    """Every multi-choice prompt used to repeat the same instruction line (issue 14.5)."""
    from bot.questionnaire.engine import Back, Done, Skip
    from bot.questionnaire.flow import Kind
    from tests.bot_support import shipped_flow

    flow = shipped_flow()
    state, out = step(flow, initial_state("ko", THIS_YEAR), Start())
    hints: list[tuple[str, str | None]] = []
    for _ in range(100):
        prompts = [o for o in out if isinstance(o, Prompt)]
        if not prompts:
            break
        [prompt] = prompts
        q = flow.question(prompt.qid)
        if q.kind is Kind.MULTI:
            hints.append((q.id, prompt.hint_id))
        if q.kind in (Kind.INFO, Kind.CONSENT) or not prompt.can_skip:
            cid = "agree" if "agree" in [c.cid for c in prompt.choices] else prompt.choices[0].cid
            state, out = step(flow, state, Choose(q.id, cid))
        else:
            state, out = step(flow, state, Skip(q.id))
    multis = [q.id for q in flow.questions if q.kind is Kind.MULTI and q.when is None]
    assert [qid for qid, _ in hints] == multis
    assert hints[0] == (multis[0], "ui.prompt.choose_all")
    assert all(hint is None for _, hint in hints[1:]), hints

    # Back on the first one: still the first, still said; writing "other" asks for text instead.
    state, out = step(flow, initial_state("ru", THIS_YEAR), Start())
    for qid, cid in [("intro", "continue"), ("consent", "agree"), ("alone", "ok_now")]:
        state, out = step(flow, state, Choose(qid, cid))
    state, out = step(flow, state, Done(multis[0]))
    state, out = step(flow, state, Back())
    [again] = [o for o in out if isinstance(o, Prompt)]
    assert (again.qid, again.hint_id) == (multis[0], "ui.prompt.choose_all")
    state, out = step(flow, state, Choose(multis[0], "other"))
    [writing] = [o for o in out if isinstance(o, Prompt)]
    assert writing.hint_id == "ui.prompt.type_text"
