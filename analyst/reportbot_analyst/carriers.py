"""Putting envelopes back together from the parts that fixed-size digests carry.

Every digest entry is a *carrier* (``bot.sealing.envelope.seal_carrier``): a sealed record of one
fixed size holding parts of envelopes, each named by the envelope's hash, its length and the
offset of the part. An envelope larger than what is left in a digest is cut and continues in the
next digests, so the parts of one envelope can come from several digests, in any order, and after
a restart of the bot some come twice. :class:`Reassembly` keeps the first copy of each part and
gives back every envelope whose parts cover it end to end and whose bytes hash to its name;
what is still missing is named (travelling in later digests, or a digest not given).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Final

from bot.sealing.envelope import (
    BLOB_HASH_BYTES,
    MAX_ENVELOPE_BYTES,
    CarriedPart,
    MalformedError,
    blob_hash,
)

_HEX: Final = frozenset("0123456789abcdef")


def _int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise MalformedError(f"carrier part {what} is not a whole number")
    return value


def read_parts(fields: Mapping[str, object], body: bytes) -> tuple[CarriedPart, ...]:
    """The parts a carrier's JSON lists, cut from its body; :class:`MalformedError` if they do
    not add up."""
    listed = fields.get("parts")
    if not isinstance(listed, list) or not listed:
        raise MalformedError("carrier without parts")
    parts: list[CarriedPart] = []
    pos = 0
    for item in listed:
        if not isinstance(item, list) or len(item) != 4:
            raise MalformedError("carrier part is not [hash, offset, total, length]")
        name, offset, total, length = item
        if not isinstance(name, str) or len(name) != 2 * BLOB_HASH_BYTES or set(name) - _HEX:
            raise MalformedError("carrier part hash is malformed")
        offset, total, length = _int(offset, "offset"), _int(total, "total"), _int(length, "length")
        if not 0 < total <= MAX_ENVELOPE_BYTES or length == 0 or offset + length > total:
            raise MalformedError("carrier part lies outside its envelope")
        if pos + length > len(body):
            raise MalformedError("carrier parts are longer than its body")
        parts.append(CarriedPart(bytes.fromhex(name), offset, total, body[pos : pos + length]))
        pos += length
    if pos != len(body):
        raise MalformedError("carrier body holds bytes no part names")
    return tuple(parts)


@dataclass
class _Pending:
    total: int
    parts: dict[int, bytes] = field(default_factory=dict)  # offset -> bytes
    digests: set[tuple[int, date]] = field(default_factory=set)

    def covered(self) -> int:
        return sum(len(p) for p in self.parts.values())


class Reassembly:
    """Parts from every digest opened in one run, put back into whole envelopes."""

    def __init__(self) -> None:
        self._pending: dict[bytes, _Pending] = {}
        self.conflicts = 0  # parts claiming another length for an envelope already seen

    def add(self, parts: Sequence[CarriedPart], seq: int, day: date) -> None:
        for part in parts:
            pending = self._pending.setdefault(part.blob, _Pending(part.total))
            if pending.total != part.total:
                self.conflicts += 1
                continue
            pending.parts.setdefault(part.offset, part.data)
            pending.digests.add((seq, day))

    def complete(self) -> Iterator[tuple[bytes, set[tuple[int, date]]]]:
        """Each whole envelope whose hash matches, with the digests its parts came in."""
        for name, pending in self._pending.items():
            data = _join(pending)
            if data is not None and blob_hash(data) == name:
                yield data, pending.digests

    def incomplete(self) -> list[str]:
        """One line per envelope not whole (or not matching its hash), without its contents."""
        lines: list[str] = []
        for name, pending in self._pending.items():
            data = _join(pending)
            if data is None:
                seqs = ", ".join(f"#{s}" for s, _ in sorted(pending.digests))
                lines.append(
                    f"an envelope ({name.hex()[:16]}, {pending.total} bytes) is incomplete: "
                    f"{pending.covered()} bytes seen in digest {seqs}; the rest travels in later "
                    "digests or is in a digest not given"
                )
            elif blob_hash(data) != name:
                lines.append(f"an envelope ({name.hex()[:16]}) does not match its hash: not used")
        return lines


def _join(pending: _Pending) -> bytes | None:
    out = bytearray()
    for offset in sorted(pending.parts):
        if offset != len(out):
            if offset < len(out):  # overlapping cuts (another bot run cut differently)
                part = pending.parts[offset]
                if offset + len(part) > len(out):
                    out += part[len(out) - offset :]
                continue
            return None
        out += pending.parts[offset]
    return bytes(out) if len(out) == pending.total else None
