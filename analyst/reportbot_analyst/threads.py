"""Analysts' replies in the workspace, to be threaded with a report's follow-ups.

A reply (``reportbot analyst reply``, docs/format.md §5.2) is sealed to the reporter's reply key:
no analyst can read it back, not even the one who wrote it. What the toolkit can show:

- every reply file posted in the channel (read from an export or a folder like the digests, and
  kept in the workspace's ``replies/``): the report it answers and the analyst key that signed
  it, both in the clear in its header. The signature is checked when the signer is one of the
  keys given with ``--key`` ("your reply") or a colleague whose ``NAME.pub`` lies next to your
  key file (named by it); any other signer is named by key id, not checked here (the bot checks
  every signer against the analysts' keys before it keeps a reply). A reply addressed to
  another reply key than the report's is not shown with it;
- the text and day of the replies written from this workspace: ``reportbot analyst reply
  --opened WORKSPACE`` keeps the author's own copy in ``replies/written/`` (never posted), so the
  author's workspace shows what was said, and whether the file was seen in the channel yet.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Final

from bot.receipts.derivation import parse_reply_key
from bot.receipts.replies import (
    BadReplySignatureError,
    ReplyFormatError,
    SignedReply,
    UnknownSignerError,
    parse_reply,
    verify_reply,
)
from bot.sealing.keys import (
    BOT_PUB_FILE,
    AnalystPublicKey,
    KeyFileError,
    key_id,
    load_analyst_public_key,
)
from reportbot_analyst.keys import AnalystSecretKey
from reportbot_analyst.private import private_dir, write_private

REPLIES_DIR: Final = "replies"
_DAY: Final = re.compile(r"\d{4}-\d{2}-\d{2}")
WRITTEN_DIR: Final = "written"


def reply_name(data: bytes) -> str:
    """A reply file's name in the workspace: the SHA-256 of its bytes."""
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class PostedReply:
    """A reply file seen in the channel."""

    name: str  # reply_name of the file
    report: str
    reply_key_id: bytes
    signer: str  # the signing analyst's key id, hex
    checked: bool  # the signature verified: signed by one of your keys or a colleague's .pub
    by_you: bool  # signed by one of the keys given with --key
    by_name: str | None = None  # the colleague's .pub file name (bob.pub: "bob")


Colleague = tuple[str, AnalystPublicKey]  # (the name of their .pub file, their key)


def colleagues_beside(key_paths: Sequence[Path]) -> list[Colleague]:
    """Analysts' public keys (``NAME.pub``) kept in the folders of the key files, so that their
    replies' signatures can be checked; ``bot.pub`` and files that are no analyst key skipped."""
    out: list[Colleague] = []
    for folder in dict.fromkeys(p.parent for p in key_paths):
        for path in sorted(folder.glob("*.pub")):
            if path.name == BOT_PUB_FILE:
                continue
            try:
                out.append((path.stem, load_analyst_public_key(path)))
            except KeyFileError:
                continue
    return out


def _signed(data: bytes, known: Sequence[AnalystPublicKey]) -> tuple[SignedReply, bool]:
    """The reply and whether its signature was checked (signed by one of ``known``)."""
    try:
        return verify_reply(data, known), True
    except UnknownSignerError:
        return parse_reply(data), False


def read_posted(
    files: Mapping[str, bytes],
    keys: Sequence[AnalystSecretKey],
    notices: list[str],
    colleagues: Sequence[Colleague] = (),
) -> list[PostedReply]:
    """Every usable reply among ``files`` (name -> bytes); the others named in ``notices``."""
    known = [k.public for k in keys] + [key for _, key in colleagues]
    names = {key.key_id: name for name, key in colleagues}
    mine = {k.key_id for k in keys}
    out: list[PostedReply] = []
    for name, data in sorted(files.items()):
        try:
            reply, checked = _signed(data, known)
        except BadReplySignatureError:
            notices.append(
                f"a reply file ({name[:16]}) claims the key of an analyst you know but its "
                "signature does not verify (forged or altered): not shown"
            )
            continue
        except ReplyFormatError as exc:
            notices.append(f"a reply file ({name[:16]}): not used: {exc}")
            continue
        signer = reply.signer_key_id
        by_you = signer in mine
        name_of = None if by_you else names.get(signer)
        out.append(
            PostedReply(
                name, reply.report_id, reply.reply_key_id, signer.hex(), checked, by_you, name_of
            )
        )
    return out


def keep_written(
    workspace: Path, data: bytes, *, report: str, day: date, text: str, signer: bytes
) -> Path:
    """The author's own copy of a reply written from ``workspace`` (text, day, signer)."""
    folder = workspace / REPLIES_DIR / WRITTEN_DIR
    private_dir(workspace / REPLIES_DIR)
    private_dir(folder)
    doc = {"report": report, "day": day.isoformat(), "text": text, "signer": signer.hex()}
    target = folder / f"{reply_name(data)}.json"
    write_private(target, (json.dumps(doc, ensure_ascii=False, sort_keys=True) + "\n").encode())
    return target


def keep_posted_day(workspace: Path, name: str, day: str) -> None:
    """The earliest day an export showed reply ``name`` posted (``replies/<name>.day``)."""
    target = workspace / REPLIES_DIR / f"{name}.day"
    known = read_posted_days(workspace).get(name)
    if known is None or day < known:
        write_private(target, (day + "\n").encode("ascii"))


def read_posted_days(workspace: Path) -> dict[str, str]:
    """Reply name -> the day it was posted, as the channel's exports said."""
    folder = workspace / REPLIES_DIR
    out: dict[str, str] = {}
    for path in sorted(folder.glob("*.day")) if folder.is_dir() else []:
        with contextlib.suppress(OSError, UnicodeDecodeError):
            day = path.read_text(encoding="ascii").strip()
            if _DAY.fullmatch(day):
                out[path.stem] = day
    return out


def read_written(workspace: Path, notices: list[str]) -> dict[str, dict[str, str]]:
    """The replies written from ``workspace``: reply name -> report, day, text, signer."""
    folder = workspace / REPLIES_DIR / WRITTEN_DIR
    out: dict[str, dict[str, str]] = {}
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            out[path.stem] = {k: str(doc[k]) for k in ("report", "day", "text", "signer")}
        except (OSError, ValueError, KeyError, TypeError):
            notices.append(f"{path}: not a reply written here: not shown")
    return out


def _reply_key_id(token: str | None) -> bytes | None:
    if token is None:
        return None
    try:
        return key_id(parse_reply_key(token))
    except ValueError:
        return None


def reply_docs(
    report: str,
    reply_key: str | None,
    posted: Sequence[PostedReply],
    written: Mapping[str, Mapping[str, str]],
    posted_days: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """A report's replies as in ``reports.jsonl``: by day (unknown days last), on one day the
    posted ones before those not seen in the channel yet."""
    expected = _reply_key_id(reply_key)
    docs: list[dict[str, Any]] = []
    seen: set[str] = set()
    for reply in posted:
        if reply.report != report or reply.reply_key_id != expected:
            continue
        seen.add(reply.name)
        mine = written.get(reply.name, {})
        docs.append(
            {
                "day": mine.get("day") or (posted_days or {}).get(reply.name),
                "by": reply.signer,
                "by_name": reply.by_name,
                "by_you": reply.by_you,
                "signature_checked": reply.checked,
                "text": mine.get("text"),
                "posted": True,
                "file": f"{REPLIES_DIR}/{reply.name}.bin",
            }
        )
    for name, mine in written.items():
        if mine["report"] == report and name not in seen:
            docs.append(
                {
                    "day": mine["day"],
                    "by": mine["signer"],
                    "by_name": None,
                    "by_you": True,
                    "signature_checked": True,  # your own copy, made when you signed it
                    "text": mine["text"],
                    "posted": False,
                    "file": None,
                }
            )
    return sorted(
        docs, key=lambda d: (d["day"] is None, d["day"] or "", not d["posted"], d["file"] or "")
    )
