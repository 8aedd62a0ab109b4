"""Flows by (id, version): labels from the exact version a reporter saw.

The digests carry their own flow snapshots (``reportbot_analyst.flows``); ``--flows`` files and a
checkout's ``flows/`` only help with digests of older bots that carried none.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from bot.questionnaire.flow import Flow


class FlowCatalog:
    """Flows by (id, version). A version not here means: raw ids, never a guessed label."""

    def __init__(self, flows: Iterable[Flow] = ()) -> None:
        self._flows: dict[tuple[str, str], Flow] = {}
        for flow in flows:
            self._flows[(flow.id, flow.version)] = flow

    def get(self, flow_id: str, version: str) -> Flow | None:
        return self._flows.get((flow_id, version))

    def add(self, flow: Flow) -> None:
        self._flows.setdefault((flow.id, flow.version), flow)

    def __iter__(self) -> Iterator[Flow]:
        return iter(sorted(self._flows.values(), key=lambda f: (f.id, f.version)))

    def __len__(self) -> int:
        return len(self._flows)

    @classmethod
    def load(cls, paths: Sequence[Path], locales_dir: Path | None) -> tuple[FlowCatalog, list[str]]:
        """Flows from files or folders of ``*.yaml``; problems come back as lines, not errors."""
        # Imported here: only labelling needs the YAML loader.
        from bot.questionnaire.loader import FlowLoadError, default_locales_dir, load_flow

        flows: list[Flow] = []
        problems: list[str] = []
        files: list[Path] = []
        for path in paths:
            if path.is_dir():
                files += sorted(path.glob("*.yaml"))
            elif path.is_file():
                files.append(path)
            else:
                problems.append(f"{path}: no such flow file or folder")
        for file in files:
            locales = locales_dir if locales_dir is not None else default_locales_dir(file)
            try:
                flows.append(load_flow(file, locales))
            except FlowLoadError as exc:
                first = exc.problems[0] if exc.problems else "unreadable"
                problems.append(f"{file}: flow not loaded ({first})")
        return cls(flows), problems


def shipped_flows_dir() -> Path | None:
    """``flows/`` of this checkout, if the toolkit runs from one."""
    candidate = Path(__file__).resolve().parents[2] / "flows"
    return candidate if candidate.is_dir() else None
