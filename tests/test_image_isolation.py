"""Hostile image files never reach a decoder in the process that holds the keys (issue 17.3).

The attack: a file in one of Pillow's many formats (TGA, PCX, SGI, ICO, TIFF, DDS...) sent with
any MIME type, hoping a parser bug runs in the process that holds the bot's signing key and the
answers of open conversations. What blocks it: only JPEG, PNG and WebP by MIME type *and* first
bytes are decoded at all, and only in a fresh, confined interpreter (bot/sealing/metadata.py).
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from bot.questionnaire.flow import MediaKind
from bot.sealing.envelope import Metadata, ReportContext, seal_attachment_telling
from reportbot_analyst.opening import open_envelope
from tests.bot_support import running_bot
from tests.botclient import texts_of
from tests.sealing_support import Team, gps_jpeg, make_team, report_context
from tests.test_bot_ill_fitting_input import at

EXOTIC = ["TGA", "PCX", "SGI", "ICO", "TIFF", "DDS", "BMP", "GIF", "PPM", "QOI"]


@pytest.fixture
def team() -> Team:
    return make_team()


@pytest.fixture
def ctx() -> ReportContext:
    return report_context()


def _exotic(fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 10, 10)).save(buffer, format=fmt)
    return buffer.getvalue()


def _seal(team: Team, ctx: ReportContext, data: bytes, mime: str) -> tuple[bytes, Metadata]:
    return seal_attachment_telling(
        team.recipients,
        ctx,
        slot=1,
        question="evidence",
        ref="f1",
        media=MediaKind.DOCUMENT,
        data=data,
        mime=mime,
    )


@pytest.fixture
def no_decoding_here(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """Image.open fails in this process (the bot's); worker starts are recorded."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("an image was decoded in the process that holds the keys")

    started: list[tuple[Any, ...]] = []
    real_run = subprocess.run

    def recording_run(args: Any, **kwargs: Any) -> Any:
        started.append(tuple(args))
        return real_run(args, **kwargs)

    monkeypatch.setattr(Image, "open", refuse)
    monkeypatch.setattr(subprocess, "run", recording_run)
    return started


@pytest.mark.parametrize("fmt", [f for f in EXOTIC if f != "QOI" or "QOI" in Image.SAVE])
@pytest.mark.parametrize("mime", ["application/pdf", "image/jpeg", "image/x-tga", "image/tiff"])
def test_exotic_image_formats_under_any_mime_type_are_sealed_as_received_never_decoded(
    team: Team,
    ctx: ReportContext,
    no_decoding_here: list[tuple[Any, ...]],
    fmt: str,
    mime: str,
) -> None:
    data = _exotic(fmt)
    _, outcome = _seal(team, ctx, data, mime)
    assert outcome is Metadata.NOT_STRIPPED
    assert no_decoding_here == []  # not even the isolated worker was asked


def test_the_process_that_holds_the_keys_never_decodes_a_photo_yet_it_is_cleaned(
    team: Team, ctx: ReportContext, no_decoding_here: list[tuple[Any, ...]]
) -> None:
    photo = gps_jpeg()
    assert b"Exif" in photo
    envelope, outcome = _seal(team, ctx, photo, "image/jpeg")
    assert outcome is Metadata.STRIPPED
    opened = open_envelope(envelope, [team.alice])
    assert b"Exif" not in opened.body
    assert b"CanaryPhone" not in opened.body
    assert len(no_decoding_here) == 1
    command = no_decoding_here[0]
    assert command[1:] == ("-I", "-m", "bot.sealing._image_worker", "JPEG")


def test_a_decompression_bomb_is_refused_by_the_worker_and_sealed_as_received(
    team: Team, ctx: ReportContext
) -> None:
    buffer = io.BytesIO()
    Image.new("L", (10_000, 10_000)).save(buffer, format="PNG")  # 100 megapixels, ~100 KB
    _, outcome = _seal(team, ctx, buffer.getvalue(), "image/png")
    assert outcome is Metadata.NOT_STRIPPED


def test_the_image_decoder_cannot_open_a_key_file_a_socket_or_grow_past_its_memory(
    tmp_path: Path,
) -> None:
    key = tmp_path / "bot.key"
    key.write_text("secret-signing-key")
    probe = (
        "import socket, sys\n"
        "from bot.sealing import _image_worker as w\n"
        "w._confine()\n"
        "out = []\n"
        "try:\n"
        f"    open({str(key)!r}).read(); out.append('key-read')\n"
        "except OSError: out.append('key-refused')\n"
        "try:\n"
        "    socket.socket(); out.append('socket-made')\n"
        "except OSError: out.append('socket-refused')\n"
        "try:\n"
        "    b = bytearray(3 * 1024**3); out.append('memory-got')\n"
        "except MemoryError: out.append('memory-refused')\n"
        "sys.stdout.write(' '.join(out))\n"
    )
    done = subprocess.run(
        [sys.executable, "-I", "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout == "key-refused socket-refused memory-refused"
    # the same probe unconfined succeeds, so the refusals above are the confinement's
    free = subprocess.run(
        [sys.executable, "-I", "-c", f"print(open({str(key)!r}).read())"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert free.stdout.strip() == "secret-signing-key"


async def test_a_reporter_sending_a_file_the_bot_cannot_clean_is_told_it_was_kept_as_sent(
    tmp_path: Path,
) -> None:
    async with running_bot(tmp_path) as bot:
        client = await at(bot, "evidence")
        calls = await client.send_voice(b"OggS" + bytes(2000))
        assert bot.ui("ru", "ui.prompt.file_kept_as_sent") in texts_of(calls)
        calls = await client.send_photo(gps_jpeg())
        assert bot.ui("ru", "ui.prompt.file_kept_as_sent") not in texts_of(calls)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_the_worker_decodes_only_the_one_format_it_was_started_for(fmt: str) -> None:
    """Defence in depth behind the MIME and first-bytes check: should a file of another format
    reach the worker (a polyglot, a bug in that check), the worker's Pillow tries only the
    plugin it was started for. Pillow loads BMP, GIF and PPM with JPEG and PNG at start, and the
    TIFF plugin is loaded for EXIF: none of them may open the file."""
    others = [_exotic(f) for f in ("BMP", "GIF", "PPM", "TIFF", "PNG", "JPEG", "WEBP")]
    others = [data for data in others if Image.open(io.BytesIO(data)).format != fmt]
    for data in others:
        done = subprocess.run(
            [sys.executable, "-I", "-m", "bot.sealing._image_worker", fmt],
            input=data,
            capture_output=True,
            env={},
            timeout=60,
            check=False,
        )
        assert (done.returncode, done.stdout) == (1, b""), Image.open(io.BytesIO(data)).format
    own = next(
        d for d in map(_exotic, ("JPEG", "PNG", "WEBP")) if Image.open(io.BytesIO(d)).format == fmt
    )
    done = subprocess.run(
        [sys.executable, "-I", "-m", "bot.sealing._image_worker", fmt],
        input=own,
        capture_output=True,
        env={},
        timeout=60,
        check=False,
    )
    assert done.returncode == 0  # the same worker does clean its own format
    assert done.stdout[:1] == {"JPEG": b"J", "PNG": b"P", "WEBP": b"W"}[fmt]
