"""Shared helpers for the sealing, keys and toolkit tests (keys in memory, small digests)."""

from __future__ import annotations

import io
import secrets
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from PIL import Image

from bot.questionnaire.flow import Flow, FlowSpec, Kind, MediaKind, Question
from bot.sealing.envelope import (
    DigestEntry,
    ReportContext,
    ReportStatus,
    seal_answer,
    seal_manifest,
    sign_digest,
)
from bot.sealing.keys import BotSigningKey, Recipients, write_private_file, write_public_file
from reportbot_analyst.keys import AnalystSecretKey, analyst_key_file_bytes

PASSPHRASE = "quiet river 2025 тихо"
FLOW_VERSION = "0011223344556677"


@dataclass
class Team:
    alice: AnalystSecretKey
    bob: AnalystSecretKey
    carol: AnalystSecretKey  # never a recipient
    bot: BotSigningKey
    recipients: Recipients


def make_team() -> Team:
    alice, bob, carol = (AnalystSecretKey.generate() for _ in range(3))
    return Team(alice, bob, carol, BotSigningKey.generate(), Recipients([alice.public, bob.public]))


def report_context(lang: str = "ko", version: str = FLOW_VERSION) -> ReportContext:
    return ReportContext(secrets.token_hex(16), "worker_report", version, lang)


def sealed_report(
    team: Team,
    ctx: ReportContext,
    answers: dict[str, dict[str, object]],
    status: ReportStatus = ReportStatus.COMPLETE,
) -> list[bytes]:
    """One envelope per answer (slots 0..n-1) and a manifest listing them all."""
    envelopes = [
        seal_answer(team.recipients, ctx, slot=i, question=qid, answer=answer)
        for i, (qid, answer) in enumerate(answers.items())
    ]
    envelopes.append(
        seal_manifest(
            team.recipients, ctx, slot=len(answers), status=status, slots=range(len(answers))
        )
    )
    return envelopes


def digest_of(
    team: Team,
    entries: Sequence[DigestEntry],
    *,
    seq: int = 1,
    day: date = date(2025, 1, 2),
    padded: bool = True,
) -> bytes:
    return sign_digest(
        team.bot,
        seq=seq,
        day=day,
        key_ids=team.recipients.key_ids,
        entries=entries,
        size_buckets=() if not padded else (2**15, 2**16, 2**17, 2**18, 2**20, 2**22, 2**25),
    )


def write_team_files(team: Team, folder: Path) -> dict[str, Path]:
    """Key files as the CLI writes them (analyst keys with the minimum argon2id limits)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "alice.key": folder / "alice.key",
        "bob.key": folder / "bob.key",
        "carol.key": folder / "carol.key",
        "bot.key": folder / "bot.key",
        "bot.pub": folder / "bot.pub",
        "alice.pub": folder / "alice.pub",
        "bob.pub": folder / "bob.pub",
        "passphrase": folder / "passphrase.txt",
    }
    write_private_file(
        paths["alice.key"], analyst_key_file_bytes(team.alice, PASSPHRASE, limits="min")
    )
    write_private_file(paths["bob.key"], analyst_key_file_bytes(team.bob, PASSPHRASE, limits="min"))
    write_private_file(
        paths["carol.key"], analyst_key_file_bytes(team.carol, PASSPHRASE, limits="min")
    )
    write_private_file(paths["bot.key"], team.bot.file_bytes())
    write_public_file(paths["bot.pub"], team.bot.public.token())
    write_public_file(paths["alice.pub"], team.alice.public.token())
    write_public_file(paths["bob.pub"], team.bob.public.token())
    paths["passphrase"].write_text(PASSPHRASE + "\n", encoding="utf-8")
    return paths


def small_flow() -> Flow:
    """A flow built in Python (no files): a few kinds of question with texts in every language."""
    spec = FlowSpec(
        id="worker_report",
        questions=[
            Question(id="consent", kind=Kind.CONSENT),
            Question(id="site", kind=Kind.SINGLE, choices=["construction", "clothing"], other=True),
            Question(id="taken", kind=Kind.MULTI, choices=["loyalty_funds", "quota"]),
            Question(id="hours", kind=Kind.NUMBER, min=0, max=24),
            Question(id="more", kind=Kind.TEXT),
            Question(id="evidence", kind=Kind.MEDIA, accept=[MediaKind.PHOTO]),
        ],
    )
    texts: dict[str, dict[str, str]] = {}
    for lang, word in (("en", "EN"), ("ru", "RU"), ("ko", "KO")):
        table = {"flow.title": f"{word} report"}
        for q in spec.questions:
            table[f"{q.id}.prompt"] = f"{word} {q.id}?"
            for c in q.choices:
                table[f"{q.id}.choice.{c}"] = f"{word}-{c}"
            if q.other:
                table[f"{q.id}.other"] = f"{word} write"
        texts[lang] = table
    return Flow(spec=spec, texts=texts)


def gps_jpeg() -> bytes:
    """A small JPEG whose EXIF carries a GPS position (55°45'N 37°37'E) and a camera model."""
    image = Image.new("RGB", (64, 48), (10, 120, 200))
    exif = Image.Exif()
    exif[0x0110] = "CanaryPhone 9"  # Model
    exif[0x0112] = 6  # Orientation: rotate 90 degrees to display
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (55.0, 45.0, 21.0)
    gps[3] = "E"
    gps[4] = (37.0, 37.0, 4.0)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif.tobytes())
    return buffer.getvalue()


def has_gps(data: bytes) -> bool:
    with Image.open(io.BytesIO(data)) as img:
        exif = img.getexif()
        return bool(exif.get_ifd(0x8825)) or 0x8825 in exif


def u32(value: int) -> bytes:
    return struct.pack(">I", value)


def read_table(out: Path, flow: str = "worker_report") -> tuple[list[str], list[dict[str, str]]]:
    """``reports-<flow>.csv`` as (headers, rows keyed by column id), the ids from the codebook."""
    import csv
    import io

    headers, *rows = list(
        csv.reader(io.StringIO((out / f"reports-{flow}.csv").read_text("utf-8-sig")))
    )
    _, *book = list(csv.reader(io.StringIO((out / f"codebook-{flow}.csv").read_text("utf-8-sig"))))
    keys = [line[2] + (f".{line[3]}" if line[3] else "") for line in book]
    assert len(keys) == len(headers)
    return headers, [dict(zip(keys, row, strict=True)) for row in rows]
