"""Real installs of the distributions, made once per test session and shared.

``runtime_venv`` is what the server gets (``scripts/install.sh runtime``): when ``make
install-check`` (the first step of ``.ci/run``) already made one in ``.install-check/venv`` from
this very tree, it is reused, so CI installs it once; otherwise one is made in a temporary folder.
``analyst_venv`` is an analyst's install (``scripts/install.sh analyst``), made once per session.
Both are used only through their own interpreter and console script, from a folder outside the
checkout, the way their users run them.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INSTALL_TIMEOUT = 900


def install(mode: str, venv: Path) -> Path:
    """``scripts/install.sh MODE VENV``; the venv's path."""
    env = {**os.environ, "PYTHON": sys.executable, "PIP_NO_INPUT": "1"}
    run = subprocess.run(
        ["sh", str(ROOT / "scripts" / "install.sh"), mode, str(venv)],
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT,
        env=env,
        check=False,
    )
    assert run.returncode == 0, f"install.sh {mode} failed:\n{run.stderr[-3000:]}"
    return venv


def installed_python_files(venv: Path, distribution: str) -> dict[str, Path]:
    """Every ``.py`` file a distribution installed: relative name -> file (its RECORD)."""
    script = (
        "import importlib.metadata as m, sys\n"
        "for f in m.files(sys.argv[1]) or ():\n"
        "    if str(f).endswith('.py'): print(str(f), f.locate(), sep='\\t')\n"
    )
    out = run_installed(venv, "python", "-c", script, distribution, cwd=venv)
    assert out.returncode == 0, out.stderr
    files: dict[str, Path] = {}
    for line in out.stdout.splitlines():
        rel, located = line.split("\t")
        files[rel] = Path(located)
    return files


def _same_as_tree(venv: Path) -> bool:
    """Whether an existing runtime install holds exactly this tree's bot, handlers, storage."""
    try:
        files = installed_python_files(venv, "reportbot")
    except (AssertionError, OSError, subprocess.SubprocessError):
        return False
    source = {
        p.relative_to(ROOT).as_posix(): p
        for top in ("bot", "handlers", "storage")
        for p in (ROOT / top).rglob("*.py")
    }
    if set(files) != set(source):
        return False
    return all(
        hashlib.sha256(files[rel].read_bytes()).digest()
        == hashlib.sha256(source[rel].read_bytes()).digest()
        for rel in source
    )


def runtime_venv(tmp_root: Path) -> Path:
    """The server's install: ``make install-check``'s one when it is of this tree, else fresh."""
    check_dir = ROOT / os.environ.get("INSTALL_CHECK_DIR", ".install-check")
    existing = check_dir / "venv"
    if (existing / "bin" / "reportbot").is_file() and _same_as_tree(existing):
        return existing
    return install("runtime", tmp_root / "runtime-venv")


def run_installed(
    venv: Path,
    program: str,
    *args: str | Path,
    cwd: Path,
    env: dict[str, str] | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """Run one of the venv's programs from ``cwd`` with a clean environment (no PYTHONPATH,
    nothing of the developer's venv)."""
    base = {
        "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
        "HOME": str(cwd),
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    return subprocess.run(
        [str(venv / "bin" / program), *map(str, args)],
        cwd=cwd,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
