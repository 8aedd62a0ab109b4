"""The isolated image cleaner: run only by ``bot.sealing.metadata`` as a fresh interpreter.

Usage: ``python -I -m bot.sealing._image_worker FORMAT`` with the image on stdin. It writes one
byte naming the output format (``J``/``P``/``W``) and the re-encoded image to stdout, or exits
non-zero. The limits are set before the image is read; see ``bot/sealing/metadata.py``.
"""

from __future__ import annotations

import importlib
import io
import os
import resource
import sys
import warnings

from bot.sealing.metadata import (
    IMAGE_FORMATS,
    MAX_INPUT_BYTES,
    MAX_STRIP_PIXELS,
    WORKER_CPU_SECONDS,
    WORKER_MEMORY_BYTES,
)

_CODE = {"JPEG": b"J", "PNG": b"P", "WEBP": b"W"}
_PLUGINS = {
    "JPEG": "PIL.JpegImagePlugin",
    "PNG": "PIL.PngImagePlugin",
    "WEBP": "PIL.WebPImagePlugin",
}


def _confine() -> None:
    """Memory, CPU, no core, no file written, no new file descriptor at all."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_AS, (WORKER_MEMORY_BYTES, WORKER_MEMORY_BYTES))
    resource.setrlimit(resource.RLIMIT_CPU, (WORKER_CPU_SECONDS, WORKER_CPU_SECONDS))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    os.closerange(3, 65536)
    resource.setrlimit(resource.RLIMIT_NOFILE, (3, 3))


def clean(data: bytes, fmt: str) -> tuple[bytes, str]:
    from PIL import Image, ImageOps

    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(io.BytesIO(data), formats=[fmt]) as img:
            width, height = img.size
            if width * height > MAX_STRIP_PIXELS or getattr(img, "n_frames", 1) > 1:
                raise ValueError("too large or animated")
            upright = ImageOps.exif_transpose(img)
            upright.load()
    mode = upright.mode
    if fmt == "JPEG" and mode not in ("RGB", "L"):
        mode = "RGB"
    elif mode not in ("RGB", "RGBA", "L", "LA"):
        has_alpha = "A" in mode or "transparency" in upright.info
        mode = "RGBA" if has_alpha else "RGB"
    pixels = upright.convert(mode) if mode != upright.mode else upright
    # A new image from raw pixels carries no info dictionary at all: nothing to leak.
    fresh = Image.frombytes(pixels.mode, pixels.size, pixels.tobytes())
    buffer = io.BytesIO()
    if fmt == "JPEG":
        fresh.save(buffer, format="JPEG", quality=92, optimize=True)
    elif fmt == "WEBP":
        fresh.save(buffer, format="WEBP", quality=90)
    else:
        fresh.save(buffer, format="PNG", optimize=False)
    return buffer.getvalue(), fmt


def main() -> int:
    fmt = sys.argv[1] if len(sys.argv) == 2 else ""
    if fmt not in IMAGE_FORMATS.values():
        return 2
    # Pillow and exactly the one plugin, imported before the limits (imports open files).
    from PIL import Image, ImageOps  # noqa: F401

    Image.preinit()
    importlib.import_module(_PLUGINS[fmt])
    # EXIF blocks are TIFF-structured: reading the orientation needs the TIFF tag parser (it is
    # never offered a whole file: Image.open is told the one format above).
    importlib.import_module("PIL.TiffImagePlugin")
    importlib.import_module("PIL.ExifTags")
    _confine()
    data = sys.stdin.buffer.read(MAX_INPUT_BYTES + 1)
    if len(data) > MAX_INPUT_BYTES:
        return 3
    try:
        out, out_fmt = clean(data, fmt)
    except Exception:  # any failure of a decoder means only: not cleaned
        return 1
    sys.stdout.buffer.write(_CODE[out_fmt] + out)
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
