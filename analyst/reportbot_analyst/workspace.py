"""The analyst's workspace: a folder that only grows.

``reportbot analyst open INPUTS --out WORKSPACE`` copies every new, verified digest (and the
separate documents next to it) into the workspace, then rebuilds every output from all the
digests the workspace holds: opening digests #1-9 today and #10-19 tomorrow leaves all nineteen
in ``reports.jsonl``. What was opened before is skipped without a word (the normal routine is
"export the channel, open the export", every time with everything); a *different* digest under
a sequence number the workspace already holds is the one loud alarm; numbers never seen are
listed with the command that asks the operator for them.

Layout (mode 0700, files 0600; keep it on an encrypted disk, it holds decrypted reports)::

    digests/000042-<hash>.bin   the signed digests, as posted
    parts/<hash>.bin            documents posted beside a digest (large attachments)
    replies/<sha256>.bin        analysts' replies posted in the channel (sealed to reporters)
    replies/<sha256>.day        the day the channel's export says it was posted
    replies/written/<sha256>.json  your own copy of each reply written from here (its text)
    flows/<id>-<version>.json   the flow snapshots the digests carried
    ledger.json                 sequence number -> digest hash, per bot key
    bot.pub                     the bot key the digests were first verified with
    reports.jsonl, reports-<flow>.csv, codebook, workbook, html/ ...  rebuilt on every open
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from bot.sealing.keys import BOT_PUB_FILE, BotVerifyKey
from reportbot_analyst.ledger import read_ledger, write_ledger
from reportbot_analyst.private import private_dir, write_private
from reportbot_analyst.threads import REPLIES_DIR, keep_posted_day
from reportbot_analyst.verifying import VerifyResult, format_ranges, verify_files

DIGESTS_DIR: Final = "digests"
PARTS_DIR: Final = "parts"
RESEND_SHOWN: Final = 5


def resend_hint(missing: Sequence[tuple[int, int]]) -> str:
    """The line that names missing digests and the command that asks for them."""
    numbers = [n for a, b in missing for n in range(a, b + 1)]
    commands = "; ".join(f"reportbot digests resend {n}" for n in numbers[:RESEND_SHOWN])
    more = f" (and {len(numbers) - RESEND_SHOWN} more)" if len(numbers) > RESEND_SHOWN else ""
    return (
        f"missing digests: {format_ranges(missing)}: ask the operator to post them again: "
        f"{commands}{more}"
    )


@dataclass
class Added:
    """What one ``add`` did: ``verify`` holds every input file's outcome."""

    verify: VerifyResult
    new: list[int]


class Workspace:
    def __init__(self, path: Path, verify_key: BotVerifyKey) -> None:
        self.path = path
        self.verify_key = verify_key

    def known(self) -> dict[int, bytes]:
        return read_ledger(self.path, self.verify_key) if self.path.is_dir() else {}

    def add(self, inputs: Sequence[Path], days: Mapping[Path, str] | None = None) -> Added:
        """Verify ``inputs`` against what the workspace holds and keep the new digests (and
        replies, with the day ``days`` says each was posted: Telegram Desktop's export)."""
        known = self.known()
        verified = verify_files(inputs, self.verify_key, known=known)
        new = [o for o in verified.outcomes if o.status == "ok" and o.digest is not None]
        if new or verified.envelopes:
            private_dir(self.path)
        if new:
            private_dir(self.path / DIGESTS_DIR)
        for outcome in new:
            assert outcome.digest is not None  # noqa: S101 - filtered above
            name = f"{outcome.digest.seq:06d}-{outcome.digest.digest_hash.hex()[:16]}.bin"
            target = self.path / DIGESTS_DIR / name
            if not target.exists():
                write_private(target, outcome.path.read_bytes())
        if verified.envelopes:
            private_dir(self.path / PARTS_DIR)
        for digest_hash, data in verified.envelopes.items():
            target = self.path / PARTS_DIR / f"{digest_hash.hex()}.bin"
            if not target.exists():
                write_private(target, data)
        if verified.replies:
            private_dir(self.path)
            private_dir(self.path / REPLIES_DIR)
        for name, data in verified.replies.items():
            target = self.path / REPLIES_DIR / f"{name}.bin"
            if not target.exists():
                write_private(target, data)
            day = (days or {}).get(verified.reply_paths[name])
            if day is not None:
                keep_posted_day(self.path, name, day)
        digests = [o.digest for o in new if o.digest is not None]
        if digests:
            write_ledger(self.path, self.verify_key, digests)
            self._keep_bot_key()
        return Added(verified, sorted(d.seq for d in digests))

    def _keep_bot_key(self) -> None:
        """The bot key the digests were verified with, as ``bot.pub``: ``analyst verify
        --workspace`` pins it from here. Written once; a later key does not replace it."""
        target = self.path / BOT_PUB_FILE
        if not target.exists():
            write_private(target, (self.verify_key.token() + "\n").encode("ascii"))

    def files(self) -> list[Path]:
        """Every digest, separate document and reply the workspace holds, digests in order."""
        out: list[Path] = []
        for folder in (DIGESTS_DIR, PARTS_DIR, REPLIES_DIR):
            where = self.path / folder
            if where.is_dir():
                out += sorted(p for p in where.iterdir() if p.suffix == ".bin")
        return out
