"""The question kinds, registered in this one place.

Each module here owns one kind (``bot.questionnaire.kind.QuestionKind`` lists the parts). To
add a kind: write ``<name>.py`` with a ``QuestionKind`` subclass, add its member to
:class:`Kind` and its class to ``_CLASSES`` below, and give it texts and tests
(docs/architecture.md, "Add a question kind"). :func:`build_registry` refuses a kind that leaves a
part out, a kind registered twice, and a :class:`Kind` member without a kind, so a forgotten
part fails when this package is imported.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping
from enum import StrEnum
from types import MappingProxyType

from bot.questionnaire.kind import QuestionKind
from bot.questionnaire.kinds.consent import Consent
from bot.questionnaire.kinds.date import Date
from bot.questionnaire.kinds.info import Info
from bot.questionnaire.kinds.media import Media
from bot.questionnaire.kinds.multi import Multi
from bot.questionnaire.kinds.number import Number
from bot.questionnaire.kinds.place import Place
from bot.questionnaire.kinds.single import Single
from bot.questionnaire.kinds.text import FreeText


class Kind(StrEnum):
    """The kinds of question a flow can ask (``kind:`` in a flow file)."""

    INFO = "info"  # a screen of text with a "continue" button; no answer
    CONSENT = "consent"  # agree / do not agree; "do not agree" ends the flow with nothing kept
    SINGLE = "single"  # one choice from buttons (optionally "other: please write")
    MULTI = "multi"  # several choices from buttons, then "done" (optionally "other")
    TEXT = "text"  # free text up to max_length characters
    NUMBER = "number"  # a whole number in [min, max]
    DATE = "date"  # an approximate year and month, or "don't know"
    PLACE = "place"  # a region or city from a list, or written in words; never GPS
    MEDIA = "media"  # photo, voice note, video or document; always skippable by design


_CLASSES: tuple[type[QuestionKind], ...] = (
    Info,
    Consent,
    Single,
    Multi,
    FreeText,
    Number,
    Date,
    Place,
    Media,
)


class KindRegistrationError(TypeError):
    """A kind that cannot be registered: a part left out, a duplicate, or a kind missing."""


def _class_attributes() -> list[str]:
    """The class attributes every kind must set (annotated on QuestionKind, given no value)."""
    return [
        name
        for name in QuestionKind.__annotations__
        if not name.startswith("_") and name not in vars(QuestionKind)
    ]


def missing_parts(cls: type[QuestionKind]) -> list[str]:
    """The parts ``cls`` leaves out: abstract methods and unset class attributes."""
    missing = sorted(getattr(cls, "__abstractmethods__", ()))
    missing += [name for name in _class_attributes() if not hasattr(cls, name)]
    return missing


def build_registry(
    classes: Iterable[type[QuestionKind]], names: Iterable[str]
) -> Mapping[str, QuestionKind]:
    """One instance per kind name; raise KindRegistrationError on anything incomplete."""
    registry: dict[str, QuestionKind] = {}
    for cls in classes:
        if not (inspect.isclass(cls) and issubclass(cls, QuestionKind)):
            raise KindRegistrationError(f"{cls!r} is not a QuestionKind")
        missing = missing_parts(cls)
        if missing:
            raise KindRegistrationError(
                f"question kind {cls.__name__} lacks: {', '.join(missing)} "
                "(see bot/questionnaire/kind.py)"
            )
        if cls.name in registry:
            raise KindRegistrationError(f"question kind '{cls.name}' is registered twice")
        registry[cls.name] = cls()
    wanted = list(names)
    unregistered = [name for name in wanted if name not in registry]
    if unregistered:
        raise KindRegistrationError(f"no module implements kind(s): {', '.join(unregistered)}")
    unnamed = [name for name in registry if name not in wanted]
    if unnamed:
        raise KindRegistrationError(f"kind(s) {', '.join(unnamed)} are not members of Kind")
    return MappingProxyType(registry)


KINDS: Mapping[str, QuestionKind] = build_registry(_CLASSES, [k.value for k in Kind])
"""Every kind by name, built (and checked) when this package is imported."""


def kind_of(name: str) -> QuestionKind:
    """The kind a question's ``kind:`` names (a :class:`Kind` member or its value)."""
    return KINDS[name]
