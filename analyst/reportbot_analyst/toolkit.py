"""The analysts' toolkit, in one import: verify digests, open them, write the workspace's outputs.

Used by ``reportbot analyst open`` and ``reportbot analyst verify``. The work is split by purpose:

- ``verifying``: every file checked against the pinned bot key, the sequence, duplicates and the
  one alarm (a different digest under a number already seen); nothing decrypted;
- ``assembly``: the entries opened with the analyst's keys, carried parts joined
  (``carriers``), records read (``opening``) and reassembled into reports, follow-ups linked;
- ``catalog``: flows by (id, version), so labels come from the exact version a reporter saw
  (the digests' own snapshots: ``flows``);
- ``rendering``: one answer as a cell in the analyst's language (``vocabulary``);
- ``output``: ``reports.jsonl``, the CSV, codebook and XLSX (``tables``, ``exports``), the
  attachments and flow snapshots; ``ledger``: which digest the workspace holds; ``private``:
  folders 0700, files 0600.

The workspace that only grows is ``workspace``; the HTML report ``html``.
"""

from __future__ import annotations

from reportbot_analyst.assembly import OpenResult, Report, open_digests
from reportbot_analyst.catalog import FlowCatalog, shipped_flows_dir
from reportbot_analyst.ledger import read_ledger, write_ledger
from reportbot_analyst.output import write_output
from reportbot_analyst.private import private_dir, write_private
from reportbot_analyst.rendering import render_answer
from reportbot_analyst.verifying import (
    NothingToOpenError,
    ToolkitError,
    VerifyResult,
    format_ranges,
    verify_files,
)

__all__ = [
    "FlowCatalog",
    "NothingToOpenError",
    "OpenResult",
    "Report",
    "ToolkitError",
    "VerifyResult",
    "format_ranges",
    "open_digests",
    "private_dir",
    "read_ledger",
    "render_answer",
    "shipped_flows_dir",
    "verify_files",
    "write_ledger",
    "write_output",
    "write_private",
]
