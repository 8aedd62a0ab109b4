"""Flow snapshots: every digest carries the flows its reports were answered in, sealed.

Analysts open digests with nothing but their key: no checkout, no ``--flows``. For that, each
digest holds one sealed record of kind ``flow`` per flow version the bot runs (and per version it
ran before a restart, until one digest has carried it): the flow's structure and every text in
every language, exactly what :func:`bot.questionnaire.flow.flow_version` hashes, so the toolkit
recomputes the version from the snapshot and a snapshot cannot claim another version. The body
is zlib-compressed canonical JSON (a flow's texts in three languages are about 40 KB, 10 KB
compressed: one 16 KiB envelope). Format: ``docs/format.md`` §2.5.

A snapshot is sealed like any record (only analysts open it) and goes into every digest,
whether it carries reports or not, so it says nothing about reporting. Versions run before a
restart are kept sealed in ``DATA/flow-snapshots/<version>.bin`` until a digest closed after the
restart has carried them (reports answered in them may still be waiting); nothing else is kept.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from bot.questionnaire.flow import Flow
from bot.sealing.envelope import RecordKind, seal_record
from bot.sealing.keys import Recipients

log = logging.getLogger("bot.delivery.flow_snapshots")

SNAPSHOT_DIR: Final = "flow-snapshots"
SNAPSHOT_ENCODING: Final = "zlib"
_NAME_RE: Final = re.compile(r"^[a-z][a-z0-9_]*-[0-9a-f]{16,64}\.bin$")


def snapshot_document(flow: Flow) -> bytes:
    """The flow as the version hashes it: ``{"spec": ..., "texts": ...}``, canonical JSON."""
    doc = {"spec": flow.spec.model_dump(mode="json", by_alias=True), "texts": flow.texts}
    return json.dumps(
        doc, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False
    ).encode("utf-8")


def seal_flow_snapshot(recipients: Recipients, flow: Flow) -> bytes:
    """One sealed ``flow`` record: id and version in the JSON, the document compressed in the
    body."""
    fields = {
        "kind": RecordKind.FLOW.value,
        "flow": flow.id,
        "flow_version": flow.version,
        "encoding": SNAPSHOT_ENCODING,
    }
    return seal_record(recipients, fields, zlib.compress(snapshot_document(flow), 9))


class FlowSnapshots:
    """The sealed snapshots a digest carries: the running flows', and earlier runs' until sent.

    ``data_dir`` None keeps nothing on disk (tests, the demo): only the running flows travel.
    """

    def __init__(
        self, recipients: Recipients, flows: Sequence[Flow], data_dir: Path | None = None
    ) -> None:
        self._current = {
            f"{f.id}-{f.version}.bin": seal_flow_snapshot(recipients, f) for f in flows
        }
        self._folder = data_dir / SNAPSHOT_DIR if data_dir is not None else None
        if self._folder is not None:
            self._keep_current(self._folder)

    def _keep_current(self, folder: Path) -> None:
        try:
            folder.mkdir(mode=0o700, exist_ok=True)
            for name, sealed in self._current.items():
                path = folder / name
                if not path.exists():
                    tmp = path.with_suffix(".tmp")
                    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                    with os.fdopen(fd, "wb") as fh:
                        fh.write(sealed)
                    tmp.replace(path)
        except OSError as exc:  # the running flows still travel; only a restart could lose one
            log.warning("flow_snapshot_not_kept", extra={"fields": {"errno": exc.errno or 0}})

    def _earlier(self) -> list[Path]:
        if self._folder is None or not self._folder.is_dir():
            return []
        return sorted(
            p
            for p in self._folder.iterdir()
            if _NAME_RE.fullmatch(p.name) and p.name not in self._current
        )

    def entries(self) -> list[bytes]:
        """What every digest closed now carries, running flows first."""
        out = list(self._current.values())
        for path in self._earlier():
            with contextlib.suppress(OSError):
                out.append(path.read_bytes())
        return out

    def carried(self) -> None:
        """A digest holding :meth:`entries` is in the outbox: earlier runs' snapshots can go."""
        for path in self._earlier():
            with contextlib.suppress(OSError):
                path.unlink()
