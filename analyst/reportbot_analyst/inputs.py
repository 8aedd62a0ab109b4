"""What analysts give ``reportbot analyst open``: files, folders, Telegram Desktop exports.

A **Telegram Desktop export** of the channel ("Export chat history", format "Machine-readable
JSON", with "Files" ticked) is a folder holding ``result.json`` and the documents in ``files/``
(``files/000042.bin``; a name that repeats gets `` (1)`` before its extension). ``result.json``
lists the messages; each document's message has ``"file": "files/000042.bin"`` (a path relative
to the export folder) and ``"file_name"``. When the export was made without files, or over its
size limit, ``"file"`` reads ``"(File not included. Change data exporting settings to
download.)"``: those are named, with what to change. The export is read as it is: give the
folder (or its ``result.json``). A folder that is not an export stands for the files in it, and
for every export directly inside it (``ChatExport_2026-12-03`` ...).

Setup challenges (``verify-N.bin``), posted in the channel but no digest, are left out quietly;
analysts' replies are passed on like digests (the workspace keeps them: ``threads``). A
whole-account export ("Export Telegram data", its ``result.json`` holding ``chats.list``) works
too: the messages of its private channels are read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

EXPORT_FILE: Final = "result.json"
_CHALLENGE_RE: Final = re.compile(r"^verify-\d+(?: \(\d+\))?\.bin$")
_DAY_RE: Final = re.compile(r"^\d{4}-\d{2}-\d{2}(?:T|$)")


class InputError(Exception):
    """An input that cannot be read at all. ``str(exc)`` is one line with the fix."""


@dataclass
class Inputs:
    files: list[Path] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    days: dict[Path, str] = field(default_factory=dict)  # the day an export says it was posted


def _export(root: Path, out: Inputs) -> None:
    index = root / EXPORT_FILE
    try:
        doc = json.loads(index.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        raise InputError(
            f"{index}: not a Telegram Desktop export (export again with format "
            "'Machine-readable JSON')"
        ) from None
    messages = _messages(doc)
    if messages is None:
        raise InputError(f"{index}: no messages list: not a Telegram Desktop chat export")
    not_included = 0
    for message in messages:
        if not isinstance(message, dict):
            continue
        ref = message.get("file")
        if not isinstance(ref, str):
            continue
        name = str(message.get("file_name") or Path(ref).name)
        if _CHALLENGE_RE.fullmatch(name):
            continue
        if ref.startswith("("):
            not_included += 1
            continue
        path = (root / ref).resolve()
        if not path.is_relative_to(root.resolve()):
            out.notices.append(f"{index}: a file outside the export is named: {ref}: not used")
            continue
        if path.is_file():
            out.files.append(path)
            posted = message.get("date")
            if isinstance(posted, str) and _DAY_RE.match(posted):
                out.days[path] = posted[:10]
        else:
            out.notices.append(f"{index}: {ref} is listed but not in the export folder")
    if not_included:
        out.notices.append(
            f"{index}: {not_included} document(s) were not included in the export: export "
            "again with 'Files' ticked and the size limit at its maximum"
        )


def _messages(doc: object) -> list[object] | None:
    """A chat export's messages; from a whole-account export ("Export Telegram data", with
    ``chats.list``), the messages of its private channels."""
    if not isinstance(doc, dict):
        return None
    messages = doc.get("messages")
    if isinstance(messages, list):
        return messages
    chats = doc.get("chats")
    listed = chats.get("list") if isinstance(chats, dict) else None
    if not isinstance(listed, list):
        return None
    out: list[object] = []
    for chat in listed:
        if isinstance(chat, dict) and chat.get("type") == "private_channel":
            found = chat.get("messages")
            out += found if isinstance(found, list) else []
    return out


def _is_export(folder: Path) -> bool:
    return (folder / EXPORT_FILE).is_file()


def gather(paths: Sequence[Path]) -> Inputs:
    """Every file to verify, from files, folders and exports, in a stable order."""
    out = Inputs()
    for path in paths:
        if path.is_dir():
            if _is_export(path):
                _export(path, out)
                continue
            for child in sorted(path.iterdir()):
                if child.name.startswith("."):
                    continue
                if child.is_dir() and _is_export(child):
                    _export(child, out)
                elif child.is_file() and not _CHALLENGE_RE.fullmatch(child.name):
                    out.files.append(child)
        elif path.name == EXPORT_FILE and path.is_file():
            _export(path.parent, out)
        elif path.exists():
            out.files.append(path)
        else:
            raise InputError(f"{path}: no such file or folder")
    return out
