"""The deployment files keep their promises: the image installs exactly what CI installs, from
the lock files, runs as nobody in particular, writes only to its volumes and checks its own
health; the compose example and the systemd unit keep the hardening the docs describe; and
``make audit`` refuses to pass when it could audit nothing."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")


def instructions(name: str) -> list[str]:
    """Every instruction ``name`` of the Dockerfile, continuation lines joined."""
    joined = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    return [
        line.split(None, 1)[1] if " " in line else ""
        for line in joined.splitlines()
        if line.strip().upper().startswith(name + " ")
    ]


def test_base_image_is_pinned_by_digest_in_every_stage() -> None:
    [arg] = [a for a in instructions("ARG") if a.startswith("PYTHON_IMAGE=")]
    assert re.fullmatch(r"PYTHON_IMAGE=python:3\.11\.\d+-slim-bookworm@sha256:[0-9a-f]{64}", arg), (
        arg
    )
    froms = instructions("FROM")
    assert len(froms) == 2, "a build stage and a runtime stage"
    assert all(f.startswith("${PYTHON_IMAGE}") for f in froms)


def test_the_image_installs_with_the_command_ci_runs() -> None:
    runs = " ".join(instructions("RUN"))
    assert "scripts/install.sh runtime /opt/reportbot" in runs
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "sh scripts/install.sh runtime $(INSTALL_CHECK_DIR)/venv" in makefile
    assert "make install-check" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    script = (ROOT / "scripts" / "install.sh").read_text(encoding="utf-8")
    runtime = script.split("runtime|analyst)")[1].split(";;")[0]
    assert '--require-hashes --no-deps -r "$here/requirements.lock"' in runtime
    assert '--require-hashes --no-deps -r "$here/requirements-build.lock"' in runtime


def test_the_image_runs_unprivileged_read_only_with_a_health_check() -> None:
    [user] = instructions("USER")
    assert user == "10001:10001"
    [health] = instructions("HEALTHCHECK")
    assert 'CMD ["reportbot", "doctor", "--quick"]' in health
    [volumes] = instructions("VOLUME")
    assert json.loads(volumes) == ["/data", "/keys"]
    env = " ".join(instructions("ENV"))
    assert "PYTHONDONTWRITEBYTECODE=1" in env
    assert "REPORTBOT_DATA_DIR=/data" in env


def test_secrets_data_and_keys_stay_out_of_the_build_context() -> None:
    ignore = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert "*" in ignore, "everything is excluded unless listed"
    for pattern in ("**/.env", "**/*.key", "**/*.sqlite3*"):
        assert pattern in ignore
    assert not any(line.startswith(("!data", "!keys", "!.env")) for line in ignore)


def test_compose_example_is_read_only_unprivileged_with_the_token_as_a_secret() -> None:
    compose = yaml.safe_load((ROOT / "compose.example.yaml").read_text(encoding="utf-8"))
    service = compose["services"]["reportbot"]
    assert service["read_only"] is True
    assert service["cap_drop"] == ["ALL"]
    assert "no-new-privileges:true" in service["security_opt"]
    assert "./keys:/keys:ro" in service["volumes"]
    assert not any("TOKEN" in key for key in service["environment"])
    assert service["secrets"][0]["target"] == "reportbot_token"


def test_a_crash_cannot_write_a_core_file_under_systemd_or_compose() -> None:
    unit = (ROOT / "deploy" / "reportbot.service").read_text(encoding="utf-8")
    assert re.search(r"^LimitCORE=0$", unit, re.M)
    assert re.search(r"^MemoryDenyWriteExecute=yes$", unit, re.M)
    compose = yaml.safe_load((ROOT / "compose.example.yaml").read_text(encoding="utf-8"))
    assert compose["services"]["reportbot"]["ulimits"]["core"] == 0


def test_a_stop_is_not_killed_while_it_erases_cover_mode_chats() -> None:
    """The failure: Docker's default stop timeout (10 s) kills the bot in the middle of the
    erasing a graceful stop does in cover mode (docs/cover.md), leaving questions on screen."""
    from handlers.private import ERASE_AT_STOP_SECONDS, LAST_WORDS_AT_STOP_SECONDS

    needed = ERASE_AT_STOP_SECONDS + LAST_WORDS_AT_STOP_SECONDS + 10  # the rest of the stop
    compose = yaml.safe_load((ROOT / "compose.example.yaml").read_text(encoding="utf-8"))
    grace = re.fullmatch(r"(\d+)s", compose["services"]["reportbot"]["stop_grace_period"])
    assert grace is not None
    assert float(grace.group(1)) >= needed
    unit = (ROOT / "deploy" / "reportbot.service").read_text(encoding="utf-8")
    [stop] = re.findall(r"^TimeoutStopSec=(\d+)$", unit, flags=re.M)
    assert float(stop) >= needed


def test_systemd_unit_keeps_the_token_out_of_the_environment_and_the_system_read_only() -> None:
    unit = (ROOT / "deploy" / "reportbot.service").read_text(encoding="utf-8")
    for line in (
        "LoadCredential=reportbot_token:",
        "Environment=REPORTBOT_SECRETS_DIR=%d",
        "ProtectSystem=strict",
        "NoNewPrivileges=true",
        "CapabilityBoundingSet=",
        "UMask=0077",
        "StateDirectoryMode=0700",
    ):
        assert line in unit, line
    env = (ROOT / "deploy" / "reportbot.env.example").read_text(encoding="utf-8")
    assert "REPORTBOT_TOKEN" not in env


FAKE_PIP_AUDIT = """\
import json, sys
args = sys.argv[1:]
out = args[args.index("--output") + 1]
mode = {mode!r}
deps = [("aiosqlite", "0.22.1"), ("pynacl", "1.6.2")]
if mode == "crash":
    sys.stderr.write("ConnectionError: cannot reach the database\\n")
    sys.exit(1)
if mode == "skipped":
    report = [{{"name": n, "version": v, "skip_reason": "Dependency not found on PyPI"}}
              for n, v in deps]
elif mode == "vulnerable":
    report = [{{"name": "aiosqlite", "version": "0.22.1", "vulns": []}},
              {{"name": "PyNaCl", "version": "1.6.2",
                "vulns": [{{"id": "GHSA-xxxx", "fix_versions": ["1.6.3"]}}]}}]
else:
    report = [{{"name": n, "version": v, "vulns": []}} for n, v in deps]
with open(out, "w") as fh:
    json.dump({{"dependencies": report, "fixes": []}}, fh)
"""

LOCK = """\
aiosqlite==0.22.1 \\
    --hash=sha256:00
pynacl==1.6.2 \\
    --hash=sha256:11
"""


@pytest.mark.parametrize(
    ("mode", "code", "says"),
    [
        ("clean", 0, "audit ok: 2 of 2 locked packages"),
        ("skipped", 2, "AUDIT FAILED: only 0 of 2 locked packages could be audited"),
        ("crash", 2, "AUDIT FAILED: pip-audit stopped (exit 1) without a report"),
        ("vulnerable", 1, "pynacl 1.6.2: GHSA-xxxx (fixed in: 1.6.3)"),
    ],
)
def test_make_audit_passes_only_when_every_locked_package_was_audited_clean(
    tmp_path: Path, mode: str, code: int, says: str
) -> None:
    fake = tmp_path / "pip-audit"
    fake.write_text(f"#!{sys.executable}\n" + FAKE_PIP_AUDIT.format(mode=mode), encoding="utf-8")
    fake.chmod(0o755)
    lock = tmp_path / "requirements.lock"
    lock.write_text(LOCK, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "audit.py"), str(fake), str(lock)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == code, result.stdout + result.stderr
    assert says in result.stdout + result.stderr
