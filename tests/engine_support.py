"""Shared helpers for the engine's tests: the fixture flow and a small event driver."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import yaml

from bot.engine import Event, Output, State, initial_state, step
from bot.flow import LANGUAGES, Flow, FlowSpec

FIXTURES = Path(__file__).parent / "flows_engine"
THIS_YEAR = 2025


def load_fixture_flow(name: str = "branchy") -> Flow:
    """The fixture flow ``tests/flows_engine/flows/<name>.yaml`` with its texts."""
    spec = FlowSpec.model_validate(
        yaml.safe_load((FIXTURES / "flows" / f"{name}.yaml").read_text("utf-8"))
    )
    texts = {
        lang: yaml.safe_load((FIXTURES / "locales" / lang / f"{name}.yaml").read_text("utf-8"))
        for lang in LANGUAGES
    }
    return Flow(spec=spec, texts=texts, source=str(FIXTURES / "flows" / f"{name}.yaml"))


def run(
    flow: Flow, events: Iterable[Event], state: State | None = None
) -> tuple[State, list[Output]]:
    """Apply ``events`` in order from ``state`` (a fresh English one by default)."""
    state = state or initial_state("en", THIS_YEAR)
    outputs: list[Output] = []
    for event in events:
        state, out = step(flow, state, event)
        outputs.extend(out)
    return state, outputs
