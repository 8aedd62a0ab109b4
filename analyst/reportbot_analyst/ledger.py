"""``ledger.json``: which digest (sequence number and hash) a workspace holds, per bot key.

A later run reads it to skip digests seen before without a word and to raise the alarm on a
*different* digest under a number already held.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Final

from bot.sealing.envelope import Digest
from bot.sealing.keys import BotVerifyKey
from reportbot_analyst.private import write_private
from reportbot_analyst.verifying import ToolkitError

LEDGER_FILE: Final = "ledger.json"


def read_ledger(out_dir: Path, verify_key: BotVerifyKey) -> dict[int, bytes]:
    """Sequence numbers and digest hashes opened into ``out_dir`` before, for this bot key."""
    path = out_dir / LEDGER_FILE
    if not path.exists():
        return {}
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        entries = doc["bots"].get(verify_key.key_id.hex(), {})
        return {int(seq): bytes.fromhex(h) for seq, h in entries.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        raise ToolkitError(f"{path}: ledger unreadable; move it away to start afresh") from None


def write_ledger(out_dir: Path, verify_key: BotVerifyKey, digests: Iterable[Digest]) -> Path:
    path = out_dir / LEDGER_FILE
    doc: dict[str, dict[str, dict[str, str]]] = {"bots": {}}
    if path.exists():
        with contextlib.suppress(OSError, ValueError):
            loaded = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(loaded, dict) and isinstance(loaded.get("bots"), dict):
                doc = loaded
    mine = doc["bots"].setdefault(verify_key.key_id.hex(), {})
    for d in digests:
        mine[str(d.seq)] = d.digest_hash.hex()
    write_private(path, (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode("utf-8"))
    return path
