"""Digest benchmark: close and sign one digest of 10,000 sealed answers, against bare PyNaCl
signing of the same bytes in the same run.

    .venv/bin/python -m bench.bench_digests [--answers 10000] [--per-report 5] [--rounds 3]
                                            [--sqlite DIR]

- *ours*: ``DigestCloser.close()`` on a store holding the sealed reports (answers and a manifest
  each, sealed to 2 analyst keys beforehand, outside the timing): read every ready report, put
  the envelopes in random order, fill up with dummy envelopes to the next entry-count bucket
  (10,000 answers + 2,000 manifests -> 16,384 entries: 4,384 dummies are sealed), sign, pad to
  the size bucket, and write the digest to the outbox.
- *bare*: one ``crypto_sign_detached`` over exactly the bytes our digest signs (the same length
  and content), in the same run: the floor for "sign this digest".

The ratio is dominated by sealing the dummy envelopes, which is the price of hiding how many
reports came in; the breakdown printed below the row says how much. Rounds alternate; medians.
The store is the in-memory one (the closing logic, not SQLite), or SQLite with ``--sqlite``.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import nacl.bindings
from nacl.public import PrivateKey
from nacl.signing import SigningKey

from bot.delivery.digests import DigestCloser
from bot.questionnaire.flow import AnswerValue
from bot.sealing.envelope import (
    SIGNATURE_BYTES,
    ReportContext,
    ReportStatus,
    seal_answer,
    seal_dummy,
    seal_manifest,
)
from bot.sealing.keys import AnalystPublicKey, BotSigningKey, Recipients
from storage.base import ReportState, ReportStore
from storage.memory import MemoryReportStore
from storage.sqlite import SqliteReportStore

FLOW_VERSION = "0123456789abcdef"

Report = tuple[list[bytes], bytes]  # answers, manifest


def _sealed_reports(recipients: Recipients, answers: int, per_report: int) -> list[Report]:
    rng = random.Random(2026)
    reports: list[Report] = []
    for r in range(-(-answers // per_report)):
        ctx = ReportContext(f"{r:032x}", "bench", FLOW_VERSION, rng.choice(["ko", "ru"]))
        count = min(per_report, answers - r * per_report)
        envelopes = []
        for slot in range(count):
            text = "".join(rng.choice("로동시간녀성손전화리용") for _ in range(rng.randint(1, 200)))
            answer: AnswerValue = {"text": text} if slot % 2 else {"number": rng.randint(0, 24)}
            envelopes.append(
                seal_answer(recipients, ctx, slot=slot, question=f"q{slot}", answer=answer)
            )
        manifest = seal_manifest(
            recipients, ctx, slot=999, status=ReportStatus.COMPLETE, slots=range(count)
        )
        reports.append((envelopes, manifest))
    return reports


async def _fill(store: ReportStore, reports: Sequence[Report]) -> None:
    async def one(answers: list[bytes], manifest: bytes) -> None:
        report_id = await store.open_report()
        for slot, envelope in enumerate(answers):
            await store.put_answer(report_id, slot, envelope)
        await store.close_report(report_id, ReportState.COMPLETE, manifest)

    for start in range(0, len(reports), 200):  # concurrent writers: the store's group commit
        await asyncio.gather(*(one(a, m) for a, m in reports[start : start + 200]))


async def run_ours(
    store: ReportStore, bot: BotSigningKey, recipients: Recipients
) -> tuple[float, bytes, int]:
    closer = DigestCloser(store, bot, recipients)
    start = time.perf_counter()
    (closed,) = await closer.close()
    elapsed = time.perf_counter() - start
    digest = (await store.get_digest(closed.seq)).parts[0].data
    return elapsed, digest, closed.dummies


def run_bare(seed: bytes, signed: bytes) -> float:
    _, secret = nacl.bindings.crypto_sign_seed_keypair(seed)
    start = time.perf_counter()
    nacl.bindings.crypto_sign(signed, secret)
    return time.perf_counter() - start


async def main_async(args: argparse.Namespace) -> None:
    keys = [
        AnalystPublicKey(PrivateKey.generate().public_key, SigningKey.generate().verify_key)
        for _ in range(2)
    ]
    recipients = Recipients(keys)
    seed = nacl.bindings.randombytes(32)
    bot = BotSigningKey(SigningKey(seed))
    print(f"sealing {args.answers} answers for the benchmark (not timed)...")
    reports = _sealed_reports(recipients, args.answers, args.per_report)
    ours_t: list[float] = []
    bare_t: list[float] = []
    size = dummies = 0
    for _ in range(args.rounds):
        tmp: Path | None = None
        store: ReportStore
        if args.sqlite is not None:
            tmp = Path(tempfile.mkdtemp(dir=args.sqlite))
            store = await SqliteReportStore.open(tmp)
        else:
            store = MemoryReportStore()
        try:
            await _fill(store, reports)
            elapsed, digest, dummies = await run_ours(store, bot, recipients)
        finally:
            await store.close()
            if tmp is not None:
                shutil.rmtree(tmp)
        ours_t.append(elapsed)
        size = len(digest)
        bare_t.append(run_bare(seed, digest[:-SIGNATURE_BYTES]))
    dummy_start = time.perf_counter()
    for _ in range(dummies):
        seal_dummy(recipients)
    dummy_t = time.perf_counter() - dummy_start
    ours, bare = statistics.median(ours_t), statistics.median(bare_t)
    where = f"SQLite in {args.sqlite}" if args.sqlite is not None else "in-memory store"
    print(f"ours:  {ours:.3f} s  (close + sign, {where}; rounds {[round(t, 3) for t in ours_t]})")
    print(f"bare:  {bare:.4f} s  (crypto_sign over the same {size - SIGNATURE_BYTES} bytes)")
    print(f"of ours, sealing the {dummies} dummy envelopes alone: {dummy_t:.3f} s")
    print(
        f"| digests: close + sign 10,000 answers | {args.answers} sealed answers in "
        f"{len(reports)} reports (+ manifests), 2 analyst keys, {where}; one digest of "
        f"{size} B with {dummies} dummies; median of {args.rounds} rounds | bare "
        f"`crypto_sign` over the same bytes: {bare:.4f} s | {ours:.2f} s (x{ours / bare:.0f}); "
        f"dummies {dummy_t:.2f} s of it | |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--answers", type=int, default=10_000)
    parser.add_argument("--per-report", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sqlite", type=Path, default=None, help="a folder on a real disk")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
