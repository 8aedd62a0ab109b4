"""A child process for the durability test: writes reports until it is killed.

``python -m tests.storage_crash_writer DATA_DIR KEY_HEX`` runs several concurrent writers. Each
opens a report, stores a few sealed answers (some replaced, some large), closes it with a sealed
manifest naming its slots, and only then prints ``R <report id>`` on stdout: the acknowledgement
a reporter would get. Now and then one writer puts the ready reports into a digest and prints
``D <seq> <report ids...>`` after the digest is committed. The parent kills this process with
SIGKILL at random moments and checks that every acknowledged thing is there after a restart.

Answers are sealed with a plain ``nacl.secret.SecretBox`` so the parent can check the contents.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
from pathlib import Path

from nacl.secret import SecretBox

from storage import ReportState, SqliteReportStore
from storage.errors import DigestSequenceError, ReportNotReadyError

WRITERS = 8


def answer_plaintext(report_id: str, slot: int, size: int) -> bytes:
    head = f"{report_id}:{slot}:".encode()
    return head + b"." * max(0, size - len(head))


async def _writer(store: SqliteReportStore, box: SecretBox, out: asyncio.Lock) -> None:
    rng = random.Random()
    while True:
        report_id = await store.open_report()
        slots = rng.sample(range(1000), rng.randint(1, 6))
        for slot in slots:
            if rng.random() < 0.2:  # a first answer, changed afterwards
                await store.put_answer(report_id, slot, bytes(box.encrypt(b"superseded")))
            size = rng.choice([40, 300, 6000])
            plain = answer_plaintext(report_id, slot, size)
            await store.put_answer(report_id, slot, bytes(box.encrypt(plain)))
        manifest = json.dumps({"report": report_id, "slots": sorted(slots)}).encode()
        await store.close_report(report_id, ReportState.COMPLETE, bytes(box.encrypt(manifest)))
        async with out:
            sys.stdout.write(f"R {report_id}\n")
            sys.stdout.flush()
        if rng.random() < 0.1:
            ready = await store.ready_reports()
            seq = await store.next_digest_seq()
            try:
                await store.add_digest(seq, [bytes(box.encrypt(b"digest"))], ready)
            except (DigestSequenceError, ReportNotReadyError):
                continue  # another writer made a digest at the same moment
            async with out:
                sys.stdout.write(f"D {seq} {' '.join(ready)}\n")
                sys.stdout.flush()


async def main(data_dir: Path, key: bytes) -> None:
    box = SecretBox(key)
    out = asyncio.Lock()
    async with await SqliteReportStore.open(data_dir) as store:
        sys.stdout.write("READY\n")
        sys.stdout.flush()
        await asyncio.gather(*(_writer(store, box, out) for _ in range(WRITERS)))


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), bytes.fromhex(sys.argv[2])))
