"""Durability: SIGKILL at random moments never loses an acknowledged report, and never leaves a
half-written report looking complete.

A child process (``tests/storage_crash_writer.py``) writes reports with eight concurrent writers
and acknowledges each on stdout only after ``close_report`` returned (committed). The test kills
it with SIGKILL after a random delay, many times over the same data directory, restarting it each
time. After every kill the store is reopened (SQLite rolls back the torn transaction) and:

- every acknowledged report is there, COMPLETE, its manifest opens, and every slot the manifest
  names holds the answer written for it;
- every COMPLETE report, acknowledged or not, is whole in the same way (no half-written report
  delivered as if complete);
- every acknowledged digest is in the outbox with the reports it carries.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from nacl.secret import SecretBox

from storage import ReportId, ReportState, SqliteReportStore, schema
from tests.proof_support import report, scaled
from tests.storage_crash_writer import answer_plaintext

ROOT = Path(__file__).resolve().parent.parent
KILLS = scaled(25)
BUDGET_SECONDS = 40.0 * (KILLS / 25)


def _run_and_kill(data_dir: Path, key: bytes, rng: random.Random) -> list[str]:
    """Start the writer, kill it at a random moment, return every line it acknowledged."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.storage_crash_writer", str(data_dir), key.hex()],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert proc.stdout is not None
    try:
        first = proc.stdout.readline()
        if first != "READY\n":
            proc.kill()
            _, err = proc.communicate(timeout=10)
            pytest.fail(f"writer did not start: {first!r} {err[-2000:]}")
        time.sleep(rng.uniform(0.02, 0.35))
        proc.send_signal(signal.SIGKILL)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)
    assert proc.returncode == -signal.SIGKILL, err[-2000:]
    # a line cut by the kill was never a full acknowledgement
    return [line for line in out.splitlines(keepends=True) if line.endswith("\n")]


async def _check(
    data_dir: Path, box: SecretBox, acked: set[str], digests: dict[int, set[str]]
) -> tuple[int, int]:
    """Returns (complete reports seen, open reports seen)."""
    async with await SqliteReportStore.open(data_dir) as store:
        ready = set(await store.ready_reports())
        carried: set[ReportId] = set()
        for seq in range(1, await store.next_digest_seq()):
            carried |= set(await store.digest_reports(seq))
        complete = ready | carried
        missing = acked - complete
        assert not missing, f"{len(missing)} acknowledged reports lost"
        for report_id in complete:
            report = await store.load_report(ReportId(report_id))
            assert report.state is ReportState.COMPLETE
            assert report.manifest is not None
            manifest = json.loads(box.decrypt(report.manifest))
            assert manifest["report"] == report_id
            assert sorted(report.answers) == manifest["slots"], "half-written report complete"
            for slot, envelope in report.answers.items():
                plain = box.decrypt(envelope)
                assert plain.startswith(f"{report_id}:{slot}:".encode())
                assert plain == answer_plaintext(report_id, slot, len(plain))
        for seq, ids in digests.items():
            digest = await store.get_digest(seq)
            assert box.decrypt(digest.parts[0].data) == b"digest"
            assert ids <= set(await store.digest_reports(seq))
        open_reports = await store.open_reports()
    conn = schema.connect(schema.database_path(data_dir))
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        conn.close()
    return len(complete), len(open_reports)


@pytest.mark.slow
@pytest.mark.timeout(int(BUDGET_SECONDS) + 80)
async def test_sigkill_at_random_moments_loses_no_acknowledged_report(tmp_path: Path) -> None:
    rng = random.Random(secrets.randbits(32))
    key = secrets.token_bytes(SecretBox.KEY_SIZE)
    box = SecretBox(key)
    data_dir = tmp_path / "data"
    acked: set[str] = set()
    digests: dict[int, set[str]] = {}
    kills = 0
    started = time.monotonic()
    torn = 0
    hot_journals = 0  # kills that landed inside a write transaction
    while kills < KILLS and time.monotonic() - started < BUDGET_SECONDS:
        lines = await asyncio.to_thread(_run_and_kill, data_dir, key, rng)
        kills += 1
        journal = schema.database_path(data_dir).with_name(schema.DB_FILENAME + "-journal")
        hot_journals += journal.exists()
        for line in lines:
            kind, *rest = line.split()
            if kind == "R":
                acked.add(rest[0])
            elif kind == "D":
                digests[int(rest[0])] = set(rest[1:])
        _, open_count = await _check(data_dir, box, acked, digests)
        torn += open_count
    report(
        "storage-sigkill",
        kills_survived=kills,
        reports_acknowledged=len(acked),
        kills_inside_a_write=hot_journals,
        torn_reports_left_open=torn,
    )
    assert kills >= 20, f"only {kills} kills fitted in the time budget"
    assert len(acked) >= 200, f"only {len(acked)} reports acknowledged: the kills came too early"
    # the kills landed while reports were being written, not only between them
    assert torn > 0
    assert hot_journals > 0, "no kill landed inside a write transaction"
