"""Checking digest files before anything in them is used: signature, sequence, duplicates.

Every file is verified against the pinned bot key; one that fails is rejected with one line and
nothing from it is read. The same digest twice is a duplicate (dropped); a digest whose number was
seen before (in the workspace's ledger) is ``seen`` and skipped silently; a *different* digest
under a number already seen is the one loud alarm (``conflict``); numbers never seen are named.
Nothing is decrypted here: ``reportbot analyst verify`` needs no analyst key.
"""

from __future__ import annotations

import itertools
import stat
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

from bot.sealing.envelope import (
    DIGEST_MAGIC,
    ENVELOPE_MAGIC,
    MAX_DIGEST_BYTES,
    Digest,
    FormatError,
    blob_hash,
    verify_digest,
)
from bot.sealing.keys import BotVerifyKey
from reportbot_analyst.threads import reply_name


class ToolkitError(Exception):
    """A problem that stops the whole run. ``str(exc)`` is one line."""


class NothingToOpenError(ToolkitError):
    """No digest could be used; ``verify`` says why for each file."""

    def __init__(self, message: str, verify: VerifyResult) -> None:
        super().__init__(message)
        self.verify = verify


Status = Literal["ok", "duplicate", "seen", "rejected", "conflict", "envelope", "other"]
"""``seen``: opened into this workspace before (skipped silently); ``conflict``: a different
digest under a number already seen, the one loud alarm; ``other``: a file of the channel that is
no digest: an analyst's reply (kept in ``VerifyResult.replies`` for the workspace's threads)."""

REPLY_MAGIC: Final = b"RBRP"  # docs/format.md §5.2: analysts' replies are posted in the channel


@dataclass
class FileOutcome:
    path: Path
    status: Status
    message: str = ""
    digest: Digest | None = None


@dataclass
class VerifyResult:
    outcomes: list[FileOutcome] = field(default_factory=list)
    envelopes: dict[bytes, bytes] = field(default_factory=dict)  # blob hash -> envelope file
    replies: dict[str, bytes] = field(default_factory=dict)  # reply name -> analyst's reply file
    reply_paths: dict[str, Path] = field(default_factory=dict)  # reply name -> where it was read
    notices: list[str] = field(default_factory=list)
    missing: list[tuple[int, int]] = field(default_factory=list)

    @property
    def accepted(self) -> list[Digest]:
        return sorted(
            (o.digest for o in self.outcomes if o.status == "ok" and o.digest is not None),
            key=lambda d: d.seq,
        )

    @property
    def rejected(self) -> list[FileOutcome]:
        """Files not used because they are bad or conflict (conflicts included)."""
        return [o for o in self.outcomes if o.status in ("rejected", "conflict")]

    @property
    def conflicts(self) -> list[FileOutcome]:
        return [o for o in self.outcomes if o.status == "conflict"]

    @property
    def seen(self) -> list[FileOutcome]:
        return [o for o in self.outcomes if o.status == "seen"]

    @property
    def duplicates(self) -> list[FileOutcome]:
        return [o for o in self.outcomes if o.status == "duplicate"]


def _ranges(numbers: Iterable[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for n in sorted(numbers):
        if out and out[-1][1] == n - 1:
            out[-1] = (out[-1][0], n)
        else:
            out.append((n, n))
    return out


def format_ranges(ranges: Sequence[tuple[int, int]]) -> str:
    return ", ".join(f"#{a}" if a == b else f"#{a}-#{b}" for a, b in ranges)


def _read_file(path: Path) -> bytes:
    try:
        st = path.stat()
    except FileNotFoundError:
        raise FormatError("no such file") from None
    except OSError as exc:
        raise FormatError(f"cannot read ({exc.strerror})") from None
    if not stat.S_ISREG(st.st_mode):
        raise FormatError("not a regular file")
    if st.st_size > MAX_DIGEST_BYTES:
        raise FormatError("too large to be a reportbot digest")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise FormatError(f"cannot read ({exc.strerror})") from None


def verify_files(
    paths: Sequence[Path],
    verify_key: BotVerifyKey,
    *,
    known: Mapping[int, bytes] | None = None,
) -> VerifyResult:
    """Check every file's signature and the sequence; nothing is decrypted.

    ``known`` maps sequence numbers opened earlier (the ledger) to their digest hashes.
    """
    known = dict(known or {})
    result = VerifyResult()
    by_hash: dict[bytes, Path] = {}
    by_seq: dict[int, tuple[bytes, Path]] = {}
    for path in paths:
        try:
            data = _read_file(path)
            if data[:4] == REPLY_MAGIC:
                result.replies[reply_name(data)] = data
                result.reply_paths[reply_name(data)] = path
                result.outcomes.append(FileOutcome(path, "other", "an analyst's reply"))
                continue
            if data[:4] == ENVELOPE_MAGIC:
                result.envelopes[blob_hash(data)] = data
                result.outcomes.append(FileOutcome(path, "envelope", "attachment envelope"))
                continue
            if data[:4] != DIGEST_MAGIC and len(data) >= 4:
                raise FormatError("not a reportbot digest (bad magic)")
            digest = verify_digest(data, verify_key)
        except FormatError as exc:
            result.outcomes.append(FileOutcome(path, "rejected", str(exc)))
            continue
        if digest.digest_hash in by_hash:
            result.outcomes.append(
                FileOutcome(
                    path,
                    "duplicate",
                    f"digest #{digest.seq} again (same as {by_hash[digest.digest_hash]}): dropped",
                    digest,
                )
            )
            continue
        earlier = known.get(digest.seq)
        if digest.seq in by_seq or (earlier is not None and earlier != digest.digest_hash):
            where = by_seq[digest.seq][1] if digest.seq in by_seq else "this workspace"
            result.outcomes.append(
                FileOutcome(
                    path,
                    "conflict",
                    f"ALARM: a different digest #{digest.seq} is already in {where}: two digests "
                    "under one number (replayed or forged); this one is not used. Tell the "
                    "operator and compare the files",
                    digest,
                )
            )
            continue
        if earlier is not None:
            by_hash[digest.digest_hash] = path
            result.outcomes.append(
                FileOutcome(path, "seen", f"digest #{digest.seq}: already in the workspace", digest)
            )
            continue
        by_hash[digest.digest_hash] = path
        by_seq[digest.seq] = (digest.digest_hash, path)
        result.outcomes.append(
            FileOutcome(path, "ok", f"digest #{digest.seq} of {digest.day.isoformat()}", digest)
        )
    seen = set(by_seq) | set(known)
    if seen:
        result.missing = _ranges(n for n in range(1, max(seen) + 1) if n not in seen)
    accepted = result.accepted
    for before, after in itertools.pairwise(accepted):
        if after.day < before.day:
            result.notices.append(
                f"digest #{after.seq} is dated {after.day}, before #{before.seq} "
                f"({before.day}): days out of order"
            )
    return result
