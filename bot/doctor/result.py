"""One line of the doctor's report (:class:`Check`) and the whole report (:class:`Report`)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Status(Enum):
    PASS = "ok"  # noqa: S105 - a verdict, not a password
    FAIL = "FAIL"
    SKIP = "skip"


@dataclass(frozen=True)
class Check:
    """One line of the report: what was checked, the verdict, what was found, and the fix."""

    name: str
    status: Status
    detail: str
    fix: str = ""

    @property
    def failed(self) -> bool:
        return self.status is Status.FAIL

    def line(self) -> str:
        mark = {Status.PASS: "[ ok ]", Status.FAIL: "[FAIL]", Status.SKIP: "[skip]"}[self.status]
        text = f"{mark} {self.name}: {self.detail}"
        if self.fix and self.status is Status.FAIL:
            text += f" -> fix: {self.fix}"
        return " ".join(text.split())  # one line, whatever a library's message held


def ok(name: str, detail: str) -> Check:
    return Check(name, Status.PASS, detail)


def fail(name: str, detail: str, fix: str) -> Check:
    return Check(name, Status.FAIL, detail, fix)


def skip(name: str, detail: str) -> Check:
    return Check(name, Status.SKIP, detail)


@dataclass(frozen=True)
class Report:
    checks: tuple[Check, ...]

    @property
    def failed(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.failed)

    @property
    def ok(self) -> bool:
        return not self.failed

    def lines(self) -> list[str]:
        out = [c.line() for c in self.checks]
        ran = [c for c in self.checks if c.status is not Status.SKIP]
        if self.ok:
            out.append(f"doctor: all {len(ran)} checks passed")
        else:
            out.append(f"doctor: {len(self.failed)} of {len(ran)} checks FAILED")
        return out
