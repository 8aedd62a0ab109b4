"""pytest hooks for the whole suite: the proof suites' counts in the closing summary."""

from __future__ import annotations

import pytest

from tests.proof_support import REPORTED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if REPORTED:
        terminalreporter.section("proof suites: counts (docs/reliability.md)")
        for line in REPORTED:
            terminalreporter.write_line(line)
