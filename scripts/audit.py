"""``make audit``: pip-audit over requirements.lock that fails loudly when it could audit nothing.

pip-audit on its own exits 0 when it cannot reach a vulnerability database: every package is
"skipped" and the run looks clean. This wrapper refuses that. It passes only when pip-audit ran,
every package pinned in the lock file was looked up (none skipped), and no known vulnerability was
found. Anything else exits non-zero with one clear line saying which of these failed.

Usage: ``python scripts/audit.py PIP_AUDIT [LOCK_FILE] [-- extra pip-audit arguments]``
(the Makefile passes the pip-audit it installed into its own virtual environment).
Exit codes: 0 audited and clean, 1 vulnerabilities found, 2 could not audit everything.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)")


def say(line: str, *, err: bool = True) -> None:
    """One line to stderr (failures) or stdout (the pass line)."""
    stream = sys.stderr if err else sys.stdout
    stream.write(line.rstrip("\n") + "\n")


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked_pins(lock: Path) -> dict[str, str]:
    """Every ``name==version`` pinned in a pip-compile lock file, by normalised name."""
    pins: dict[str, str] = {}
    for line in lock.read_text(encoding="utf-8").splitlines():
        match = PIN.match(line)
        if match:
            pins[normalise(match.group(1))] = match.group(2)
    return pins


def judge(pins: dict[str, str], report: object) -> tuple[int, list[str]]:
    """(exit code, lines to print) for a pip-audit JSON report against the lock's pins."""
    if not isinstance(report, dict) or not isinstance(report.get("dependencies"), list):
        return 2, ["AUDIT FAILED: pip-audit wrote no usable report; nothing was audited."]
    audited: dict[str, list[dict[str, object]]] = {}
    skipped: list[str] = []
    for dep in report["dependencies"]:
        if not isinstance(dep, dict):
            continue
        name = normalise(str(dep.get("name", "")))
        if "skip_reason" in dep or not isinstance(dep.get("vulns"), list):
            skipped.append(f"{name} ({dep.get('skip_reason', 'no result')})")
            continue
        audited[name] = dep["vulns"]
    missing = sorted(set(pins) - set(audited))
    if skipped or missing:
        lines = [
            f"AUDIT FAILED: only {len(audited)} of {len(pins)} locked packages could be audited. "
            "No vulnerability database was reachable, or it does not know these packages; "
            "this run proves nothing. Run `make audit` on a machine that can reach pypi.org "
            "(or api.osv.dev with AUDIT_ARGS='-s osv')."
        ]
        lines += [f"  not audited: {item}" for item in (skipped or missing)[:20]]
        return 2, lines
    found = [(name, vuln) for name, vulns in sorted(audited.items()) for vuln in vulns]
    if found:
        lines = [f"AUDIT FAILED: {len(found)} known vulnerabilities in locked packages:"]
        for name, vuln in found:
            versions = vuln.get("fix_versions")
            listed = versions if isinstance(versions, list) else []
            fixes = ", ".join(str(v) for v in listed) or "none yet"
            lines.append(f"  {name} {pins.get(name, '?')}: {vuln.get('id')} (fixed in: {fixes})")
        lines.append("Bump the pins in requirements*.in, run `make lock`, test, and redeploy.")
        return 1, lines
    return 0, [f"audit ok: {len(audited)} of {len(pins)} locked packages, no known vulnerability"]


def main(argv: list[str]) -> int:
    extra: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1 :]
    if not 1 <= len(argv) <= 2:
        say(__doc__ or "")
        return 2
    pip_audit = argv[0]
    lock = Path(argv[1] if len(argv) > 1 else "requirements.lock")
    pins = locked_pins(lock)
    if not pins:
        say(f"AUDIT FAILED: no pinned packages in {lock}")
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "audit.json"
        cmd = [
            pip_audit,
            "--progress-spinner",
            "off",
            "--require-hashes",
            "--disable-pip",
            "--requirement",
            str(lock),
            "--format",
            "json",
            "--output",
            str(out),
            *extra,
        ]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)  # noqa: S603
        except OSError as exc:
            say(f"AUDIT FAILED: cannot run pip-audit: {exc}")
            return 2
        try:
            report = json.loads(out.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            report = None
    if report is None:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["(no output)"]
        say(
            f"AUDIT FAILED: pip-audit stopped (exit {proc.returncode}) without a report; nothing "
            f"was audited. Last line: {tail[0][:300]}"
        )
        return 2
    code, lines = judge(pins, report)
    for line in lines:
        say(line, err=bool(code))
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
