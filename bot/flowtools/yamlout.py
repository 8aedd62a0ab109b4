"""A flow's structure and texts written as our YAML files (``flows import``).

The files read back exactly (``bot.questionnaire.loader``: the same structure, the same texts,
so the same version) and look as a maintainer would write them: one question per block, the
fields in the order of ``docs/flows.md``, conditions on one line, one text per line and
multi-line texts under ``|-``. Every word that YAML could read as something else is quoted.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from bot.questionnaire.flow import FlowSpec, Question, spec_text_ids

_FIELD_ORDER = (
    "id",
    "kind",
    "required",
    "choices",
    "ends_topic",
    "other",
    "max_length",
    "min",
    "max",
    "min_year",
    "accept",
    "max_files",
    "has_help",
    "when",
    "end_if",
)

_PLAIN = re.compile(r"[a-z][a-z0-9_]*")
_YAML_WORDS = {"yes", "no", "on", "off", "true", "false", "null", "y", "n"}


def _scalar(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    text = str(value)
    if _PLAIN.fullmatch(text) and text not in _YAML_WORDS:
        return text
    return _quoted(text)


def _flow_value(value: Any) -> str:
    """A value in YAML flow style: ``{q: site, equals: other}``, ``[a, b]``."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_flow_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flow_value(v) for v in value) + "]"
    return _scalar(value)


def _question(q: Question) -> list[str]:
    data = q.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    data["id"], data["kind"] = q.id, str(q.kind)
    lines = []
    for name in _FIELD_ORDER:
        if name in data:
            lead = "  - " if name == "id" else "    "
            lines.append(f"{lead}{name}: {_flow_value(data[name])}")
    return lines


def flow_yaml(spec: FlowSpec, source: str) -> str:
    """``flows/<id>.yaml`` for ``spec``; ``source`` is named in its first line."""
    lines = [
        f"# Written by `reportbot flows import {source}`: the structure only; the words are",
        f"# in locales/<lang>/{spec.id}.yaml. Edit either (docs/flows.md), then run",
        "# `reportbot flows check`.",
        f"id: {_scalar(spec.id)}",
    ]
    if spec.title:
        lines.append(f"title: {_scalar(spec.title)}")
    lines.append("questions:")
    for i, q in enumerate(spec.questions):
        if i:
            lines.append("")
        lines += _question(q)
    return "\n".join(lines) + "\n"


_UNPRINTABLE = re.compile(
    "[^\x09\x0a\x0d\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]|[\u2028\u2029\ufeff]"
)
"""What YAML does not allow as written, or reads as a line break inside quotes: escaped."""


def _quoted(value: str) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return _UNPRINTABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _text(value: str) -> str:
    block_safe = (
        "\n" in value
        and not _UNPRINTABLE.search(value)
        and not value.startswith((" ", "\n"))
        and value == value.rstrip()
        and all(line == line.rstrip() for line in value.split("\n"))
        and "\r" not in value
        and "\t" not in value
    )
    if block_safe:
        return "|-\n" + "\n".join(f"  {line}" if line else "" for line in value.split("\n"))
    return _quoted(value)


def texts_yaml(spec: FlowSpec, texts: Mapping[str, str], lang: str) -> str:
    """``locales/<lang>/<id>.yaml``: the texts in the order of the flow, then any others."""
    order = [t for t in spec_text_ids(spec) if t in texts]
    order += [t for t in texts if t not in order]
    lines = [f"# The {lang} texts of flows/{spec.id}.yaml, one text id per line (docs/flows.md)."]
    lines += [f"{text_id}: {_text(texts[text_id])}" for text_id in order]
    return "\n".join(lines) + "\n"
