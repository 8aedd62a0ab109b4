"""Helpers for the storage tests: a fake day clock and a scanner for secrets left in files."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path


@dataclass
class FakeDay:
    """A store clock that a test moves by hand."""

    today: date = date(2026, 3, 1)

    def __call__(self) -> date:
        return self.today

    def advance(self, days: int) -> None:
        self.today += timedelta(days=days)


def _base64_forms(raw: bytes) -> Iterator[bytes]:
    """What base64 of any text containing ``raw`` must contain, at each of the 3 alignments:
    the 4-character groups made only of ``raw`` (the encoding depends on the offset mod 3)."""
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + raw)
        first_group = -(-shift // 3)  # groups starting at or after the marker's first byte
        end_group = (shift + len(raw)) // 3  # groups ending at or before its last byte
        core = encoded[4 * first_group : 4 * end_group]
        if len(core) >= 8:
            yield core
            yield core.replace(b"+", b"-").replace(b"/", b"_")  # URL-safe alphabet


def encodings_of(marker: str | bytes) -> list[bytes]:
    """Every form a marker could take on disk: UTF-8, UTF-16 (LE/BE), hex (both cases), base64
    (standard and URL-safe, every alignment)."""
    if isinstance(marker, bytes):
        utf8 = marker
        forms = [utf8]
    else:
        utf8 = marker.encode("utf-8")
        forms = [utf8, marker.encode("utf-16-le"), marker.encode("utf-16-be")]
    hexed = binascii.hexlify(utf8)
    forms += [hexed, hexed.upper()]
    forms += list(_base64_forms(utf8))
    return forms


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def find_leaks(root: Path, markers: Iterable[str | bytes]) -> list[tuple[str, str]]:
    """(file, marker) for every marker found in any encoding in any file under ``root``."""
    leaks: list[tuple[str, str]] = []
    wanted = [(m, encodings_of(m)) for m in markers]
    for path in files_under(root):
        content = path.read_bytes()
        for marker, forms in wanted:
            if any(form in content for form in forms):
                leaks.append((path.name, marker if isinstance(marker, str) else marker.hex()[:16]))
    return leaks
