"""The receipt pepper: a secret the lookup tags depend on, kept outside the database.

The database holds the argon2id salt and every receipt's tag. Without a pepper, whoever steals
the database (or one of its backups) can test guessed codes offline against the tags, and, with
a code found on a phone, confirm that it belongs to a report. With the pepper mixed into every
derivation (``bot.receipts.derivation``), the stolen database alone tests nothing: the pepper is
a file like the bot's signing key (mode 0600, in the key folder, never in the data directory, so
``reportbot db backup`` never copies it), and ``reportbot run`` refuses to start without it.

File (``reportbot keys new-pepper``)::

    {"type": "reportbot-receipt-pepper", "v": 1, "pepper": "<base64 of 32 random bytes>"}

Losing the file loses every receipt's follow-ups and replies (the reports themselves are not
affected). Back it up with the bot's signing key, not with the database.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from bot.sealing.keys import KeyFileError, check_private_file, read_key_text, write_private_file

PEPPER_TYPE: Final = "reportbot-receipt-pepper"
PEPPER_BYTES: Final = 32
PEPPER_FILE_NAME: Final = "receipt.pepper"


@dataclass(frozen=True, slots=True)
class ReceiptPepper:
    """32 secret bytes; never printed."""

    secret: bytes

    def __post_init__(self) -> None:
        if len(self.secret) != PEPPER_BYTES:
            raise ValueError("a receipt pepper is 32 bytes")

    def __repr__(self) -> str:
        return "ReceiptPepper(<hidden>)"

    @classmethod
    def generate(cls) -> ReceiptPepper:
        return cls(secrets.token_bytes(PEPPER_BYTES))


def pepper_file_bytes(pepper: ReceiptPepper) -> bytes:
    doc = {"type": PEPPER_TYPE, "v": 1, "pepper": base64.b64encode(pepper.secret).decode()}
    return (json.dumps(doc, sort_keys=True) + "\n").encode()


def new_pepper_file(out_dir: Path) -> Path:
    """Write a fresh pepper to ``out_dir/receipt.pepper`` (mode 0600, never overwriting)."""
    out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = out_dir / PEPPER_FILE_NAME
    write_private_file(path, pepper_file_bytes(ReceiptPepper.generate()))
    return path


def load_pepper(path: Path) -> ReceiptPepper:
    """The pepper file; refuses loose permissions, a link, and any other kind of file."""
    path = Path(path)
    check_private_file(path)
    source = str(path)
    try:
        doc = json.loads(read_key_text(path))
    except ValueError:
        doc = None
    if not isinstance(doc, dict) or doc.get("type") != PEPPER_TYPE:
        raise KeyFileError(f"{source}: not a reportbot receipt pepper file")
    if doc.get("v") != 1:
        raise KeyFileError(f"{source}: unknown pepper file version {doc.get('v')!r}")
    value = doc.get("pepper")
    if not isinstance(value, str):
        raise KeyFileError(f"{source}: no pepper in the file")
    try:
        raw = base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raw = b""
    if len(raw) != PEPPER_BYTES:
        raise KeyFileError(f"{source}: the pepper is not {PEPPER_BYTES} bytes of base64")
    return ReceiptPepper(raw)
