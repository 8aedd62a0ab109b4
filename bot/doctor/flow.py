"""The flow and the bot's texts load (the rules of ``reportbot flows check``)."""

from __future__ import annotations

from bot.doctor.result import Check, fail, ok
from bot.ops.settings import Settings


def check_flow(settings: Settings) -> Check:
    from bot.questionnaire.loader import FlowLoadError, load_flow, load_ui_texts

    try:
        flow = load_flow(settings.flow, settings.locales_dir)
        load_ui_texts(settings.locales_dir)
    except FlowLoadError as exc:
        first = str(exc).splitlines()[0] if str(exc) else "cannot be loaded"
        more = len(exc.problems) - 1
        extra = f" (and {more} more)" if more > 0 else ""
        return fail(
            "flow",
            f"{first}{extra}",
            f"run `reportbot flows check {settings.flow}` and correct what it names",
        )
    return ok(
        "flow",
        f"{flow.id} version {flow.version[:12]}, {len(flow.questions)} questions, "
        f"texts in {', '.join(sorted(flow.texts))}",
    )
