"""The question kinds: one module each, registered in one place that refuses an incomplete kind."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import cast

import pytest

from bot.questionnaire.kind import KindView, QuestionKind, QuestionSpec, Turn
from bot.questionnaire.kinds import (
    _CLASSES,
    KINDS,
    Kind,
    KindRegistrationError,
    build_registry,
    kind_of,
    missing_parts,
)
from bot.questionnaire.kinds.info import Info
from bot.questionnaire.state import State

REPO = Path(__file__).resolve().parent.parent
NAMES = [k.value for k in Kind]


def test_every_kind_a_flow_can_name_has_a_registered_module() -> None:
    assert sorted(KINDS) == sorted(NAMES)
    for member in Kind:
        kind = kind_of(member)
        assert kind.name == member.value
        assert type(kind).__module__ == f"bot.questionnaire.kinds.{member.value}"
        assert missing_parts(type(kind)) == []


class _NoView(QuestionKind):
    """A kind with every flag and every part but its view model: the registry must refuse it."""

    name = "noview"
    takes_choices = takes_other = takes_accept = takes_max_length = False
    never_required = None
    holds_answer = skippable = reviewed = done_button = typed = echoes_answer = False
    ends_when_declined = False
    columns = None
    first_sub_step = None
    on_choose = Info.on_choose
    on_text = Info.on_text
    on_done = Info.on_done
    answer_text = Info.answer_text
    comparable = Info.comparable
    could_equal = Info.could_equal
    why_not_equal = Info.why_not_equal
    outline_line = Info.outline_line


class _HalfDeclared(QuestionKind):
    """Every method, but the spec flags left out."""

    name = "half"

    def view(self, q: QuestionSpec, state: State) -> KindView:
        return KindView()

    on_choose = Info.on_choose
    on_text = Info.on_text
    on_done = Info.on_done
    answer_text = Info.answer_text
    comparable = Info.comparable
    could_equal = Info.could_equal
    why_not_equal = Info.why_not_equal
    outline_line = Info.outline_line


def test_a_kind_without_its_view_model_is_refused_naming_the_part() -> None:
    incomplete = cast("type[QuestionKind]", _NoView)  # mypy, too, sees the missing part
    with pytest.raises(KindRegistrationError, match=r"_NoView lacks: view"):
        build_registry([*_CLASSES, incomplete], [*NAMES, "noview"])


def test_a_kind_that_leaves_its_spec_flags_unset_is_refused_naming_them() -> None:
    with pytest.raises(KindRegistrationError, match="takes_choices") as caught:
        build_registry([*_CLASSES, _HalfDeclared], [*NAMES, "half"])
    for flag in ("holds_answer", "skippable", "typed", "first_sub_step", "ends_when_declined"):
        assert flag in str(caught.value)


def test_a_kind_member_without_a_module_is_refused() -> None:
    with pytest.raises(KindRegistrationError, match=r"no module implements kind.*: media"):
        build_registry([c for c in _CLASSES if c.name != "media"], NAMES)


def test_a_module_for_a_kind_flows_cannot_name_is_refused() -> None:
    class Extra(Info):
        name = "extra"

    with pytest.raises(KindRegistrationError, match="extra are not members of Kind"):
        build_registry([*_CLASSES, Extra], NAMES)


def test_a_kind_registered_twice_is_refused() -> None:
    with pytest.raises(KindRegistrationError, match="'info' is registered twice"):
        build_registry([*_CLASSES, Info], NAMES)


def test_the_import_contract_keeps_kind_modules_independent() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    independent = [c for c in contracts if c["type"] == "independence"]
    assert any(c["modules"] == ["bot.questionnaire.kinds.*"] for c in independent)


def test_kinds_reach_the_engine_only_through_the_turn_protocol() -> None:
    """A kind changes nothing itself: what it may do is Turn's methods (a structural check)."""
    allowed = {"state", "settle", "stay", "invalid", "decline", "show_again", "stale"}
    declared = {n for n in vars(Turn) if not n.startswith("_")}
    assert declared == allowed
