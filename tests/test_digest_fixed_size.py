"""Digests of one fixed size: whoever sees the posted files learns nothing from their sizes.

Issue 17.2. Over many slots with 0, 1, 10 and 100 reports and photos of every size (up to the
20 MiB the Bot API lets a bot download), every posted file has the deployment's one size and
the same number of entries, all of one length; what does not fit waits for the next slot, large
files travel in parts inside the same digests, and analysts get every report back exactly once.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.delivery.digests import (
    DEFAULT_DIGEST_BYTES,
    DigestCloser,
    close_to_folder,
    write_digest_files,
)
from bot.questionnaire.flow import AnswerValue, MediaKind
from bot.sealing.envelope import (
    MAX_ATTACHMENT_BYTES,
    ReportContext,
    ReportStatus,
    seal_answer,
    seal_attachment,
    seal_manifest,
    verify_digest,
)
from bot.sealing.keys import Recipients
from storage.base import ReportId, ReportState, ReportStore
from storage.memory import MemoryReportStore
from tests.digest_support import FLOW_ID, FLOW_VERSION, answer_texts, make_keys, open_files

PHOTO_SIZES = (1, 900, 5_000, 60_000, 100_000, 700_000, 1_100_000, 3_500_000, MAX_ATTACHMENT_BYTES)


async def _report(
    store: ReportStore, recipients: Recipients, marker: str, photo: bytes | None = None
) -> ReportId:
    report_id = await store.open_report()
    ctx = ReportContext(report_id, FLOW_ID, FLOW_VERSION, "ko")
    slots = []
    for n in range(3):
        answer: AnswerValue = {"text": f"{marker}-{n}"}
        await store.put_answer(
            report_id, n, seal_answer(recipients, ctx, slot=n, question=f"q{n}", answer=answer)
        )
        slots.append(n)
    if photo is not None:
        envelope = seal_attachment(
            recipients,
            ctx,
            slot=100,
            question="evidence",
            ref=f"ref{marker}",
            media=MediaKind.PHOTO,
            data=photo,
            mime="image/jpeg",
            strip_metadata=False,  # only the size matters here
        )
        await store.put_attachment(report_id, 100, envelope)
        slots.append(100)
    manifest = seal_manifest(recipients, ctx, slot=500, status=ReportStatus.COMPLETE, slots=slots)
    await store.close_report(report_id, ReportState.COMPLETE, manifest)
    return report_id


def _photo(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


@pytest.mark.parametrize("digest_kib", [256, DEFAULT_DIGEST_BYTES // 1024])
async def test_channel_cannot_tell_reports_or_photos_from_digest_sizes(
    digest_kib: int, tmp_path: Path
) -> None:
    keys = make_keys(analysts=2)
    store = MemoryReportStore()
    closer = DigestCloser(
        store,
        keys.signing,
        keys.recipients,
        digest_bytes=digest_kib * 1024,
        clock=lambda: datetime(2026, 3, 1, tzinfo=UTC),
        rng=random.Random(17),
    )
    photos: dict[str, bytes] = {}
    paths: list[Path] = []
    waves = [0, 1, 0, 10, 100, 0]  # reports arriving before each slot
    for wave, count in enumerate(waves):
        for n in range(count):
            marker = f"w{wave}r{n}"
            photo = None
            if n < len(PHOTO_SIZES) and wave % 2:  # photos of every size, on some waves
                photo = photos[marker] = _photo(PHOTO_SIZES[n], seed=wave * 100 + n)
            await _report(store, keys.recipients, marker, photo)
        paths += await close_to_folder(closer, tmp_path / f"slot{wave}")
    while await store.ready_reports():  # the overflow, carried by the following slots
        paths += await close_to_folder(closer, tmp_path / f"more{len(paths)}")
        assert len(paths) < 400
    paths += await close_to_folder(closer, tmp_path / "empty")

    sizes = {p.stat().st_size for p in paths}
    assert sizes == {digest_kib * 1024}
    shapes = set()
    for path in paths:
        digest = verify_digest(path.read_bytes(), keys.signing.public)
        inline = [e for e in digest.entries if isinstance(e, bytes)]
        assert len(inline) == len(digest.entries)  # nothing posted on the side
        shapes.add((len(inline), frozenset(len(e) for e in inline)))
    (shape,) = shapes  # one entry count, one entry length, in every digest
    assert len(shape[1]) == 1
    assert len(paths) > len(waves) + 2  # the 20 MiB photos took several slots

    result = open_files(paths, keys)
    texts = answer_texts(result)
    assert len(result.reports) == sum(waves)
    assert set(texts.values()) == {1}
    assert len(texts) == 3 * sum(waves)
    got = {r.attachments[0].ref: r.attachments[0].data for r in result.reports if r.attachments}
    assert got == {f"ref{m}": data for m, data in photos.items()}
    assert not [n for n in result.notices if "incomplete" in n]


async def test_overflow_waits_for_the_next_slot_instead_of_a_second_digest(
    tmp_path: Path,
) -> None:
    keys = make_keys()
    store = MemoryReportStore()
    for n in range(300):
        await _report(store, keys.recipients, f"r{n}")
    closer = DigestCloser(store, keys.signing, keys.recipients, digest_bytes=256 * 1024)
    first = await closer.close()
    assert len(first) == 1  # one digest for the slot, never more
    assert 0 < first[0].reports < 300
    assert len(await store.ready_reports()) == 300 - first[0].reports
    paths = await write_digest_files(store, first[0].seq, tmp_path)
    while await store.ready_reports():
        paths += await close_to_folder(closer, tmp_path)
    result = open_files(paths, keys)
    assert len(result.reports) == 300
    assert set(answer_texts(result).values()) == {1}


async def test_a_photo_cut_over_digests_is_whole_only_with_every_part(tmp_path: Path) -> None:
    keys = make_keys()
    store = MemoryReportStore()
    photo = _photo(2_000_000, seed=3)
    await _report(store, keys.recipients, "big", photo)
    closer = DigestCloser(store, keys.signing, keys.recipients, digest_bytes=512 * 1024)
    paths: list[Path] = []
    while await store.ready_reports():
        paths += await close_to_folder(closer, tmp_path)
    assert len(paths) >= 4
    (report,) = open_files(paths, keys).reports
    assert report.attachments[0].data == photo
    partial = open_files(paths[:-1], keys)
    assert any("incomplete" in n for n in partial.notices)
    assert all(not r.attachments for r in partial.reports)


async def test_a_restart_mid_photo_sends_it_again_and_analysts_keep_one_copy(
    tmp_path: Path,
) -> None:
    keys = make_keys()
    store = MemoryReportStore()
    photo = _photo(1_500_000, seed=4)
    await _report(store, keys.recipients, "big", photo)
    paths = await close_to_folder(
        DigestCloser(store, keys.signing, keys.recipients, digest_bytes=512 * 1024), tmp_path
    )
    assert await store.ready_reports()  # cut off after the first slot
    restarted = DigestCloser(store, keys.signing, keys.recipients, digest_bytes=512 * 1024)
    while await store.ready_reports():
        paths += await close_to_folder(restarted, tmp_path)
    result = open_files(paths, keys)
    (report,) = result.reports
    assert report.attachments[0].data == photo
    assert set(answer_texts(result).values()) == {1}
