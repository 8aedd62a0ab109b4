"""What changed between two versions of a flow, in words a maintainer and an analyst read.

``flow_diff(old, new)`` compares two loaded flows: questions added, removed and moved, a kind,
a field or a condition changed, choices added, removed or reordered, and every text reworded,
in each language. ``reportbot flows diff OLD NEW`` prints it, so a change can be reviewed
before it is deployed. English texts are quoted where a question or choice is named; a
reworded text is shown in the language it changed in.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from bot.questionnaire.flow import LANGUAGES, Flow, Question, describe_condition

_SHOWN = "en"
"""The language a question's prompt is quoted in when it is named (maintainers and analysts)."""

_FIELDS: tuple[str, ...] = ("other", "max_length", "min", "max", "min_year", "accept", "max_files")
_FIELDS += ("has_help", "ends_topic")
"""Question fields compared one by one (kind, required, conditions and choices have their own
words)."""


def _quote(text: str) -> str:
    one_line = " / ".join(part.strip() for part in text.splitlines() if part.strip())
    return f'"{one_line}"'


def _prompt(flow: Flow, qid: str) -> str:
    return _quote(flow.texts[_SHOWN][f"{qid}.prompt"])


def _label(flow: Flow, qid: str, cid: str) -> str:
    return _quote(flow.texts[_SHOWN][f"{qid}.choice.{cid}"])


def _condition(q: Question, field: str) -> str:
    cond = q.when if field == "when" else q.end_if
    if cond is None:
        return "always" if field == "when" else "never"
    return describe_condition(cond)


def _added(new: Flow, q: Question, after: str | None) -> list[str]:
    where = f"after '{after}'" if after else "first"
    lines = [f"added question '{q.id}' ({q.kind}, {where}): {_prompt(new, q.id)}"]
    if q.when is not None:
        lines.append(f"  asked only when {describe_condition(q.when)}")
    if q.choices:
        shown = ", ".join(f"{cid} {_label(new, q.id, cid)}" for cid in q.choices)
        lines.append(f"  choices: {shown}")
    return lines


def _moved(old_order: Sequence[str], new_order: Sequence[str]) -> list[str]:
    """Questions whose place among the questions both versions have changed."""
    common_old = [qid for qid in old_order if qid in new_order]
    common_new = [qid for qid in new_order if qid in old_order]
    matcher = difflib.SequenceMatcher(a=common_old, b=common_new, autojunk=False)
    kept = {
        qid
        for block in matcher.get_matching_blocks()
        for qid in common_new[block.b :][: block.size]
    }
    lines = []
    for i, qid in enumerate(common_new):
        if qid not in kept:
            before = common_old[common_old.index(qid) - 1] if common_old.index(qid) else None
            now = f"after '{common_new[i - 1]}'" if i else "first"
            was = f"after '{before}'" if before else "first"
            lines.append(f"moved question '{qid}': now {now} (was {was})")
    return lines


def _required(old: Question, new: Question) -> list[str]:
    if old.required == new.required:
        return []
    if new.required:
        return [f"'{new.id}' is now required (was skippable)"]
    return [f"'{new.id}' can now be skipped (was required)"]


def _fields(old: Question, new: Question) -> list[str]:
    lines = []
    if old.kind != new.kind:
        lines.append(f"'{new.id}' kind changed: {old.kind} -> {new.kind}")
    lines += _required(old, new)
    for field in ("when", "end_if"):
        before, after = _condition(old, field), _condition(new, field)
        if before != after:
            words = "asked" if field == "when" else "ends the flow"
            lines.append(f"'{new.id}' {words} when: {after} (was: {before})")
    for field in _FIELDS:
        before, after = getattr(old, field), getattr(new, field)
        if before != after:
            lines.append(f"'{new.id}' {field}: {_value(before)} -> {_value(after)}")
    return lines


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return "none" if value is None else str(value)


def _choices(old_flow: Flow, new_flow: Flow, old: Question, new: Question) -> list[str]:
    lines = []
    added = [c for c in new.choices if c not in old.choices]
    removed = [c for c in old.choices if c not in new.choices]
    for cid in added:
        lines.append(f"'{new.id}' choice added: {cid} {_label(new_flow, new.id, cid)}")
    for cid in removed:
        lines.append(f"'{new.id}' choice removed: {cid} {_label(old_flow, old.id, cid)}")
    kept_old = [c for c in old.choices if c in new.choices]
    kept_new = [c for c in new.choices if c in old.choices]
    if kept_old != kept_new:
        lines.append(f"'{new.id}' choices reordered: {', '.join(new.choices)}")
    return lines


def _texts(old: Flow, new: Flow, ids: Sequence[str]) -> list[str]:
    lines = []
    for text_id in ids:
        for lang in LANGUAGES:
            before, after = old.texts[lang].get(text_id), new.texts[lang].get(text_id)
            if before is not None and after is not None and before != after:
                lines.append(f"reworded {text_id} in {lang}: {_quote(before)} -> {_quote(after)}")
            elif before is None and after is not None:
                lines.append(f"new text {text_id} in {lang}: {_quote(after)}")
    return lines


def _common_text_ids(old: Question, new: Question) -> list[str]:
    """Text ids of a question in both versions (a removed choice's label is not 'reworded')."""
    ids = [f"{new.id}.prompt", f"{new.id}.help"]
    ids += [f"{new.id}.choice.{c}" for c in new.choices if c in old.choices]
    ids += [f"{new.id}.other", f"{new.id}.end"]
    return ids


def flow_diff(old: Flow, new: Flow) -> list[str]:
    """Every change from ``old`` to ``new``, one line each, in the order of the new flow."""
    lines = [f"{new.id}: version {old.version} -> {new.version}"]
    if old.version == new.version:
        return [*lines, "no changes"]
    if old.spec.title != new.spec.title:
        lines.append(f"title: {_quote(old.spec.title)} -> {_quote(new.spec.title)}")
    lines += _texts(old, new, ["flow.title"])
    old_ids = [q.id for q in old.questions]
    new_ids = [q.id for q in new.questions]
    for i, q in enumerate(new.questions):
        if q.id not in old_ids:
            lines += _added(new, q, new_ids[i - 1] if i else None)
            continue
        before = old.question(q.id)
        lines += _fields(before, q)
        lines += _choices(old, new, before, q)
        lines += _texts(old, new, _common_text_ids(before, q))
    for q in old.questions:
        if q.id not in new_ids:
            lines.append(f"removed question '{q.id}' ({q.kind}): {_prompt(old, q.id)}")
    lines += _moved(old_ids, new_ids)
    return lines
