"""A crash of the bot must not put its memory (open answers, the signing key) on disk.

The running ``reportbot run`` is checked from outside, by what the kernel shows of it: its core
size limit in ``/proc/PID/limits``, and its dumpability through the owner of ``/proc/PID``
files, which the kernel hands to root when a process is not dumpable. To tell that owner from
the bot's own, the bot runs as an unprivileged uid when the tests run as root (with only the
capability to read the root-owned interpreter and test files).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.receipts.pepper import new_pepper_file
from reportbot_analyst.keys import AnalystSecretKey
from tests.bot_support import FLOW_PATH, LOCALES, TEST_TOKEN
from tests.botclient import FakeTelegram
from tests.fake_bot_api_server import FakeBotApiServer

REPORTBOT = Path(sys.executable).parent / "reportbot"
NOBODY = 65534


def _core_limits(pid: int) -> tuple[str, str]:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max core file size"):
            soft, hard = line.split()[4:6]
            return soft, hard
    raise AssertionError("no core limit line")


def _what_the_kernel_shows(pid: int) -> tuple[int, tuple[int, int], tuple[str, str]]:
    """The process's real uid, the owners of its /proc environ and mem, its core limits."""
    status = Path(f"/proc/{pid}/status").read_text()
    real_uid = int(next(x for x in status.splitlines() if x.startswith("Uid:")).split()[1])
    owners = (os.stat(f"/proc/{pid}/environ").st_uid, os.stat(f"/proc/{pid}/mem").st_uid)
    return real_uid, owners, _core_limits(pid)


def test_forbid_core_dumps_makes_a_process_undumpable_with_no_core_limit() -> None:
    code = (
        "import ctypes, resource\n"
        "from bot.ops.hardening import forbid_core_dumps\n"
        "libc = ctypes.CDLL(None)\n"
        "before = libc.prctl(3, 0, 0, 0, 0)\n"
        "h = forbid_core_dumps()\n"
        "print(before, libc.prctl(3, 0, 0, 0, 0), resource.getrlimit(resource.RLIMIT_CORE), h)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split(" ", 2)
    assert out[0] == "1"  # a fresh process is dumpable: the check can fail
    assert out[1] == "0"
    assert out[2].startswith("(0, 0)")


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc and prctl are Linux's")
async def test_a_crash_of_the_running_bot_cannot_dump_its_memory(tmp_path: Path) -> None:
    as_root = os.geteuid() == 0
    setpriv = shutil.which("setpriv")
    if as_root and setpriv is None:
        pytest.skip("running as root needs setpriv to start the bot as another uid")
    work = tmp_path / "bot"
    work.mkdir()
    telegram = FakeTelegram(TEST_TOKEN)
    server = FakeBotApiServer(telegram)
    url = await server.start()
    analyst = AnalystSecretKey.generate()
    pub = work / "analyst.pub"
    pub.write_text(analyst.public.token() + "\n")
    if as_root:
        os.chown(work, NOBODY, NOBODY)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(work),
        "REPORTBOT_TOKEN": TEST_TOKEN,
        "REPORTBOT_COVER": "false",  # tests of the report conversation (cover: test_cover*)
        "REPORTBOT_API_URL": url,
        "REPORTBOT_DATA_DIR": str(work / "data"),
        "REPORTBOT_ANALYST_PUBLIC_KEYS": str(pub),
        "REPORTBOT_RECEIPT_PEPPER": str(new_pepper_file(work / "keys")),
        "REPORTBOT_FLOW": str(FLOW_PATH),
        "REPORTBOT_LOCALES_DIR": str(LOCALES),
        "REPORTBOT_LOG_LEVEL": "INFO",
    }
    command = [str(REPORTBOT), "run", "--env-file", str(work / "absent.env")]
    if as_root:
        assert setpriv is not None
        command = [
            setpriv,
            f"--reuid={NOBODY}",
            f"--regid={NOBODY}",
            "--clear-groups",
            "--inh-caps=+dac_read_search",
            "--ambient-caps=+dac_read_search",
            *command,
        ]
    proc = await asyncio.create_subprocess_exec(
        *command,
        cwd=work,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    bot_uid = NOBODY if as_root else os.geteuid()
    try:
        await server.wait_for("setMyCommands", 4, within=60)
        real_uid, owners, limits = _what_the_kernel_shows(proc.pid)
        assert real_uid == bot_uid  # the bot runs as bot_uid...
        assert owners == (0, 0)  # ...yet its /proc files are root's: it is not dumpable
        assert limits == ("0", "0")
        proc.terminate()
        await asyncio.wait_for(proc.wait(), timeout=60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await server.stop()
    assert proc.stderr is not None
    log = (await proc.stderr.read()).decode()
    assert proc.returncode == 0, log[-2000:]
    assert '"event":"process_hardened"' in log
