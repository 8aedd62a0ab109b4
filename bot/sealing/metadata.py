"""Cleaning photos of their metadata, in a process that holds nothing worth stealing.

Image decoders are where hostile files do harm: Pillow knows dozens of formats (TGA, PCX, SGI,
ICO, TIFF, DDS, QOI...), each a parser written in C. The bot's own process holds its signing key
and, in memory, the answers of every open conversation, so it never decodes an image itself:

1. Only files whose MIME type is one reporters' phones send for pictures are decoded at all:
   ``image/jpeg``, ``image/png``, ``image/webp`` (HEIC is not: this Pillow has no HEIF decoder,
   so an iPhone's HEIC document is sealed as received). Every other file (PDF, audio, video, a
   ``.tga`` sent as ``application/pdf``) is sealed byte for byte as received, marked
   ``not_stripped``, and the reporter is told (``ui.prompt.file_kept_as_sent``).
2. The decoding runs in a fresh interpreter (``python -I -m bot.sealing._image_worker``; not a
   fork, so it inherits no memory: no key, no answer), with an empty environment (no token) and
   no file descriptor but its pipes. Before it reads a byte of the image, the worker:
   limits its address space (:data:`WORKER_MEMORY_BYTES`), its CPU time
   (:data:`WORKER_CPU_SECONDS`), forbids core files and writing any file, and lowers its
   open-file limit to the three pipes it has, so it cannot open a key file, a database or a
   socket. It opens the image with exactly one Pillow plugin, the one the MIME type names.
3. The parent waits at most :data:`WORKER_WALL_SECONDS`, checks the answer's format, and treats
   any failure (crash, limit hit, garbage) as "could not clean": sealed as received, reporter told.

At most :data:`MAX_WORKERS` decode at once, so a burst of photos cannot exhaust memory.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from typing import Final

IMAGE_FORMATS: Final = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}
"""MIME type -> the only Pillow format that may decode it."""

MAGIC: Final = {
    "JPEG": (b"\xff\xd8\xff",),
    "PNG": (b"\x89PNG\r\n\x1a\n",),
    "WEBP": (b"RIFF",),
}

MAX_STRIP_PIXELS: Final = 50_000_000
"""Images larger than this are not decoded (the worker refuses them before decoding)."""
WORKER_MEMORY_BYTES: Final = 2 * 1024**3
WORKER_CPU_SECONDS: Final = 20
WORKER_WALL_SECONDS: Final = 60.0
MAX_WORKERS: Final = 2
MAX_INPUT_BYTES: Final = 21 * 1024 * 1024

_workers = threading.BoundedSemaphore(MAX_WORKERS)


def cleanable_format(mime: str) -> str | None:
    """The one Pillow format allowed to decode a file of this MIME type, else None."""
    return IMAGE_FORMATS.get(mime.lower().split(";", 1)[0].strip())


def strip_image_metadata(data: bytes, mime: str) -> tuple[bytes, str] | None:
    """Re-encode an image from its pixels alone, in the isolated worker.

    Returns ``(new bytes, MIME type)``; None when the file is not a JPEG, PNG or WebP by both its
    MIME type and its first bytes, or the worker could not clean it (damaged, animated, too
    large, over a limit). None means: seal it as received and tell the reporter.
    """
    fmt = cleanable_format(mime)
    if fmt is None or len(data) > MAX_INPUT_BYTES:
        return None
    if not any(data.startswith(magic) for magic in MAGIC[fmt]):
        return None
    if fmt == "WEBP" and data[8:12] != b"WEBP":
        return None
    with _workers:
        try:
            done = subprocess.run(  # noqa: S603 - our own interpreter and module, no shell
                [sys.executable, "-I", "-m", "bot.sealing._image_worker", fmt],
                input=data,
                capture_output=True,
                env={},
                timeout=WORKER_WALL_SECONDS,
                check=False,
                close_fds=True,
            )
        except (OSError, subprocess.SubprocessError):
            return None
    if done.returncode != 0 or len(done.stdout) < 2:
        return None
    out_format = {b"J": "JPEG", b"P": "PNG", b"W": "WEBP"}.get(done.stdout[:1])
    clean = done.stdout[1:]
    if out_format is None or not any(clean.startswith(m) for m in MAGIC[out_format]):
        return None
    mime_out = next(m for m, f in IMAGE_FORMATS.items() if f == out_format)
    return clean, mime_out
