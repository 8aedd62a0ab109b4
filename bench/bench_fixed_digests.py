"""Fixed-size digests (issue 17.2): what one size per deployment costs in delay and bytes posted.

    .venv/bin/python -m bench.bench_fixed_digests [--digest-kib 4096] [--interval-hours 6]

For each workload (a burst of reports arriving just before one slot, nothing afterwards), the
bench closes digests slot after slot with ``DigestCloser`` on an in-memory store until every
report is carried, and reports:

- *delay*: slots until the last report of the burst is carried, and the median report's, in
  hours (x the interval); the baseline is the next slot (1 slot): a digest of unlimited size;
- *bytes posted*: the digests' total length against the sealed envelopes they carry (the
  baseline: posting the envelopes themselves, unpadded, no dummies);
- *closing time*: median seconds to close one digest (cut, seal the carriers and dummies, sign,
  write to the outbox) against one bare ``crypto_sign`` over the same bytes, same run.

Reports: 25 answers of 1-200 ko/ru characters and a manifest each, sealed to 2 analyst keys
beforehand (not timed); photos are random bytes of the given size sealed as attachments.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time

import nacl.bindings
from nacl.public import PrivateKey
from nacl.signing import SigningKey

from bot.delivery.digests import DigestCloser
from bot.questionnaire.flow import AnswerValue, MediaKind
from bot.sealing.envelope import (
    SIGNATURE_BYTES,
    ReportContext,
    ReportStatus,
    seal_answer,
    seal_attachment,
    seal_manifest,
)
from bot.sealing.keys import AnalystPublicKey, BotSigningKey, Recipients
from storage.base import ReportId, ReportState
from storage.memory import MemoryReportStore

FLOW_VERSION = "0123456789abcdef"
MIB = 1024 * 1024

WORKLOADS: tuple[tuple[str, int, int, int], ...] = (
    # name, reports, photos among them, photo bytes
    ("an idle slot", 0, 0, 0),
    ("1 report", 1, 0, 0),
    ("10 reports", 10, 0, 0),
    ("100 reports", 100, 0, 0),
    ("1,000 reports", 1000, 0, 0),
    ("10 reports with a 2 MiB photo each", 10, 10, 2 * MIB),
    ("1 report with a 20 MiB video", 1, 1, 20 * MIB - 4096),
)


async def _add(
    store: MemoryReportStore, recipients: Recipients, rng: random.Random, photo: int
) -> tuple[ReportId, int]:
    report_id = await store.open_report()
    ctx = ReportContext(report_id, "bench", FLOW_VERSION, rng.choice(["ko", "ru"]))
    payload = 0
    slots = []
    for slot in range(25):
        text = "".join(rng.choice("로동시간녀성손전화리용") for _ in range(rng.randint(1, 200)))
        answer: AnswerValue = {"text": text} if slot % 2 else {"number": rng.randint(0, 24)}
        envelope = seal_answer(recipients, ctx, slot=slot, question=f"q{slot}", answer=answer)
        await store.put_answer(report_id, slot, envelope)
        payload += len(envelope)
        slots.append(slot)
    if photo:
        envelope = seal_attachment(
            recipients,
            ctx,
            slot=100,
            question="evidence",
            ref="photo",
            media=MediaKind.PHOTO,
            data=rng.randbytes(photo),
            mime="image/jpeg",
            strip_metadata=False,
        )
        await store.put_attachment(report_id, 100, envelope)
        payload += len(envelope)
        slots.append(100)
    manifest = seal_manifest(recipients, ctx, slot=500, status=ReportStatus.COMPLETE, slots=slots)
    await store.close_report(report_id, ReportState.COMPLETE, manifest)
    return report_id, payload + len(manifest)


async def run(
    name: str, reports: int, photos: int, photo_bytes: int, args: argparse.Namespace
) -> str:
    keys = [
        AnalystPublicKey(PrivateKey.generate().public_key, SigningKey.generate().verify_key)
        for _ in range(2)
    ]
    recipients = Recipients(keys)
    seed = nacl.bindings.randombytes(32)
    store = MemoryReportStore()
    rng = random.Random(2026)
    payload = 0
    for n in range(reports):
        _, size = await _add(store, recipients, rng, photo_bytes if n < photos else 0)
        payload += size
    closer = DigestCloser(
        store, BotSigningKey(SigningKey(seed)), recipients, digest_bytes=args.digest_kib * 1024
    )
    carried_at: list[int] = []
    posted = 0
    close_t: list[float] = []
    bare_t: list[float] = []
    _, secret = nacl.bindings.crypto_sign_seed_keypair(seed)
    slot = 0
    while slot == 0 or await store.ready_reports():
        slot += 1
        start = time.perf_counter()
        (closed,) = await closer.close()
        close_t.append(time.perf_counter() - start)
        data = (await store.get_digest(closed.seq)).parts[0].data
        start = time.perf_counter()
        nacl.bindings.crypto_sign(data[:-SIGNATURE_BYTES], secret)
        bare_t.append(time.perf_counter() - start)
        posted += len(data)
        carried_at += [slot] * closed.reports
    hours = args.interval_hours
    last = max(carried_at, default=1)
    median = statistics.median(carried_at) if carried_at else 1
    ratio = f"x{posted / payload:.1f}" if payload else "-"
    close, bare = statistics.median(close_t), statistics.median(bare_t)
    print(
        f"{name}: {slot} slot(s), last carried at slot {last} ({last * hours:g} h), median "
        f"{median:g}; posted {posted / MIB:.1f} MiB for {payload / MIB:.2f} MiB sealed ({ratio}); "
        f"close {close:.3f} s vs bare sign {bare:.4f} s (x{close / bare:.0f})"
    )
    return (
        f"| {name} | {last} slot(s) = {last * hours:g} h (median report: {median:g}) | "
        f"{posted / MIB:.1f} MiB for {payload / MIB:.2f} MiB sealed ({ratio}) | "
        f"{close:.2f} s (x{close / bare:.0f} a bare sign) |"
    )


async def main_async(args: argparse.Namespace) -> None:
    rows = [await run(*w, args) for w in WORKLOADS]
    print()
    print(f"digest size {args.digest_kib} KiB, interval {args.interval_hours:g} h, 2 analyst keys")
    print(
        "| workload | delay until carried (baseline: 1 slot) | bytes posted (baseline: the "
        "sealed envelopes) | closing one digest (baseline: bare crypto_sign) |"
    )
    print("| --- | --- | --- | --- |")
    for row in rows:
        print(row)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--digest-kib", type=int, default=4096)
    parser.add_argument("--interval-hours", type=float, default=6.0)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
