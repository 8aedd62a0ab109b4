"""A flow as maintainers read it: a text outline and a branch diagram (Mermaid or Graphviz).

Pure functions from a loaded :class:`bot.questionnaire.flow.Flow` to text; ``reportbot flows show``
prints them.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.questionnaire.flow import Flow, Question, describe_condition, is_decline_ending
from bot.questionnaire.kinds import kind_of

EXCERPT_MAX = 40
"""Characters of a prompt shown inside a diagram box."""


def _kind_line(q: Question) -> str:
    return kind_of(q.kind).outline_line(q)


def _indent(text: str, prefix: str) -> list[str]:
    return [f"{prefix}{line}" if line else "" for line in text.splitlines() or [""]]


def outline(flow: Flow, lang: str) -> str:
    """Numbered questions with kind, texts in ``lang``, choices, conditions and endings."""
    texts = flow.texts[lang]
    n = len(flow.questions)
    lines = [
        f"{flow.id}  version {flow.version}  ({lang}, {n} question{'s' if n != 1 else ''})",
        f"title: {texts['flow.title']}",
        "",
    ]
    width = len(str(n))
    for number, q in enumerate(flow.questions, start=1):
        pad = " " * (width + 2)
        lines.append(f"{number:>{width}}. {q.id}  [{_kind_line(q)}]")
        if q.when is not None:
            lines.append(f"{pad}when {describe_condition(q.when)}")
        lines += _indent(texts[f"{q.id}.prompt"], pad + "| ")
        if q.has_help:
            lines.append(f"{pad}help:")
            lines += _indent(texts[f"{q.id}.help"], pad + "| ")
        if q.choices or q.other:
            id_width = max(len(c) for c in [*q.choices, "other"])
            for cid in q.choices:
                lines.append(f"{pad}- {cid:<{id_width}}  {texts[f'{q.id}.choice.{cid}']}")
            if q.other:
                written = texts[f"{q.id}.other"]
                lines.append(
                    f"{pad}- {'other':<{id_width}}  (button ui.button.other, then asks: {written!r}"
                    f", up to {q.text_max_length} characters)"
                )
        declines = kind_of(q.kind).ends_when_declined
        if declines and is_decline_ending(q):
            lines.append(f"{pad}declined -> ends, nothing kept, with:")
            lines += _indent(texts[f"{q.id}.end"], pad + "| ")
        elif declines:
            lines.append(f"{pad}declined -> ends, nothing kept, with ui.consent.declined")
        if q.end_if is not None and not is_decline_ending(q):
            lines.append(f"{pad}end_if {describe_condition(q.end_if)}  -> ends with:")
            lines += _indent(texts[f"{q.id}.end"], pad + "| ")
        lines.append("")
    lines.append("then: review (change any answer) and send")
    return "\n".join(lines) + "\n"


# ---- diagrams ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Edge:
    source: str
    target: str
    label: str


@dataclass(frozen=True)
class _Box:
    node: str
    label: str
    shape: str  # "question", "start", "end", "review"


def _excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= EXCERPT_MAX else flat[: EXCERPT_MAX - 1] + "…"


def _graph(flow: Flow, lang: str) -> tuple[list[_Box], list[_Edge]]:
    texts = flow.texts[lang]
    boxes = [_Box("start", "start", "start")]
    edges: list[_Edge] = []
    questions = flow.questions

    def successors(source: str, after: int) -> None:
        skipped = False
        for q in questions[after + 1 :]:
            if q.when is None:
                edges.append(_Edge(source, f"q_{q.id}", "otherwise" if skipped else ""))
                return
            edges.append(_Edge(source, f"q_{q.id}", f"when {describe_condition(q.when)}"))
            skipped = True
        edges.append(_Edge(source, "review", "otherwise" if skipped else ""))

    successors("start", -1)
    for i, q in enumerate(questions):
        prompt = _excerpt(texts[f"{q.id}.prompt"])
        boxes.append(_Box(f"q_{q.id}", f"{i + 1}. {q.id} ({q.kind})\n{prompt}", "question"))
        ending = _excerpt(texts[f"{q.id}.end"]) if q.end_if is not None else "ui.consent.declined"
        if kind_of(q.kind).ends_when_declined:
            boxes.append(_Box(f"end_{q.id}", f"end: {ending}", "end"))
            edges.append(_Edge(f"q_{q.id}", f"end_{q.id}", "declined"))
        elif q.end_if is not None:
            boxes.append(_Box(f"end_{q.id}", f"end: {ending}", "end"))
            edges.append(
                _Edge(f"q_{q.id}", f"end_{q.id}", f"end_if {describe_condition(q.end_if)}")
            )
        successors(f"q_{q.id}", i)
    boxes.append(_Box("review", "review and send", "review"))
    return boxes, edges


def _mermaid_text(text: str) -> str:
    escaped = (
        text.replace("#", "#35;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")
    )
    return escaped.replace("\n", "<br/>")


def mermaid(flow: Flow, lang: str) -> str:
    """The branches of ``flow`` as a Mermaid flowchart (paste into any Mermaid viewer)."""
    boxes, edges = _graph(flow, lang)
    shapes = {"question": ('["', '"]'), "start": ('(["', '"])'), "end": ('(["', '"])')}
    shapes["review"] = ('(["', '"])')
    lines = ["flowchart TD"]
    for box in boxes:
        left, right = shapes[box.shape]
        lines.append(f"    {box.node}{left}{_mermaid_text(box.label)}{right}")
    for edge in edges:
        label = f'|"{_mermaid_text(edge.label)}"|' if edge.label else ""
        lines.append(f"    {edge.source} -->{label} {edge.target}")
    return "\n".join(lines) + "\n"


def _dot_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def dot(flow: Flow, lang: str) -> str:
    """The branches of ``flow`` as Graphviz DOT (``dot -Tsvg``)."""
    boxes, edges = _graph(flow, lang)
    shapes = {"question": "box", "start": "circle", "end": "octagon", "review": "doublecircle"}
    lines = [f'digraph "{_dot_text(flow.id)}" {{', "    rankdir=TB;", "    node [shape=box];"]
    for box in boxes:
        lines.append(f'    {box.node} [shape={shapes[box.shape]}, label="{_dot_text(box.label)}"];')
    for edge in edges:
        label = f' [label="{_dot_text(edge.label)}"]' if edge.label else ""
        lines.append(f"    {edge.source} -> {edge.target}{label};")
    lines.append("}")
    return "\n".join(lines) + "\n"
