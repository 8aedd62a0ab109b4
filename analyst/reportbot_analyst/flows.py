"""Flows from the digests themselves: the snapshots the bot seals into every digest.

A snapshot is the document a flow version is the hash of (``{"spec": ..., "texts": ...}``,
``bot.delivery.flow_snapshots``). It is accepted only when its hash is the version it claims, so
labels always come from exactly the flow a reporter saw. The workspace keeps every snapshot it
has seen (``flows/<id>-<version>.json``), so a version stays readable after the bot moved on.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Final

from pydantic import ValidationError

from bot.questionnaire.flow import Flow, FlowSpec

FLOWS_DIR: Final = "flows"


class SnapshotError(Exception):
    """A snapshot that cannot be used. ``str(exc)`` is one line."""


def document_version(document: bytes) -> str:
    """The flow version of a snapshot document (``bot.questionnaire.flow.flow_version``)."""
    return hashlib.sha256(document).hexdigest()[:16]


def flow_from_snapshot(flow_id: str, version: str, document: bytes) -> Flow:
    """The flow a snapshot holds, after checking that it is the version it claims."""
    if document_version(document) != version:
        raise SnapshotError(f"flow {flow_id} snapshot does not hash to version {version}")
    try:
        doc = json.loads(document.decode("utf-8"))
        spec = FlowSpec.model_validate(doc["spec"])
        texts = {str(lang): dict(table) for lang, table in doc["texts"].items()}
    except (UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError):
        raise SnapshotError(f"flow {flow_id} version {version}: snapshot unreadable") from None
    if spec.id != flow_id:
        raise SnapshotError(f"flow snapshot names {spec.id}, not {flow_id}")
    try:
        return Flow(spec=spec, texts=texts, source=f"snapshot {flow_id} {version}")
    except ValidationError:
        # A rule added since that version was deployed: its texts still label its reports.
        return Flow.model_construct(spec=spec, texts=texts, source=f"snapshot {flow_id} {version}")


def snapshot_file(folder: Path, flow_id: str, version: str) -> Path:
    return folder / FLOWS_DIR / f"{flow_id}-{version}.json"


def read_workspace_flows(folder: Path) -> tuple[list[Flow], list[str]]:
    """Every snapshot a workspace kept; problems as lines."""
    flows: list[Flow] = []
    problems: list[str] = []
    where = folder / FLOWS_DIR
    if not where.is_dir():
        return flows, problems
    for path in sorted(where.glob("*.json")):
        flow_id, _, version = path.stem.rpartition("-")
        try:
            flows.append(flow_from_snapshot(flow_id, version, path.read_bytes()))
        except (SnapshotError, OSError) as exc:
            problems.append(f"{path}: {exc}")
    return flows, problems
