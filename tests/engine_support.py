"""Shared helpers for the engine's tests: the fixture flow and a small event driver."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from bot.questionnaire.engine import Event, Output, State, initial_state, step
from bot.questionnaire.flow import Flow
from bot.questionnaire.loader import default_locales_dir, load_flow

FIXTURES = Path(__file__).parent / "flows_engine"
THIS_YEAR = 2025


def load_fixture_flow(name: str = "branchy") -> Flow:
    """The fixture flow ``tests/flows_engine/flows/<name>.yaml`` with its texts, via the loader."""
    path = FIXTURES / "flows" / f"{name}.yaml"
    return load_flow(path, default_locales_dir(path))


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
