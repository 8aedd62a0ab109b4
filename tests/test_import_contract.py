"""The import contract (`[tool.importlinter]`, run by `make test`) breaks on the imports it exists
to stop: handlers reaching storage internals, the questionnaire importing Telegram, the server
importing the analysts' opening code. Each probe is one import added to a copy of the tree that
keeps the contract; lint-imports must fail, naming the probe and the contract it breaks."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _copy_tree(dest: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for package in ("bot", "handlers", "storage"):
        shutil.copytree(REPO / package, dest / package, ignore=ignore)
    shutil.copytree(
        REPO / "analyst" / "reportbot_analyst", dest / "reportbot_analyst", ignore=ignore
    )
    shutil.copy(REPO / "pyproject.toml", dest / "pyproject.toml")


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    # The copy comes first on sys.path, before the editable installs of the checkout.
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the packages and pyproject.toml that keeps the contract as it stands."""
    root = tmp_path_factory.mktemp("tree")
    _copy_tree(root)
    clean = _lint_imports(root)
    assert clean.returncode == 0, clean.stdout[-2000:] + clean.stderr[-2000:]
    return root


def _breaks(tree: Path, relative: str, text: str, contract: str) -> None:
    """lint-imports fails with the probe in place, naming the importer and ``contract``."""
    probe = tree / relative
    probe.write_text(text, encoding="utf-8")
    try:
        result = _lint_imports(tree)
    finally:
        probe.unlink()
    assert result.returncode != 0, "lint-imports passed with the probe in place"
    report = " ".join(result.stdout.split())  # lint-imports wraps long contract names
    assert relative.removesuffix(".py").replace("/", ".") in report, "the importer is not named"
    assert f"{contract} BROKEN" in report, report[-3000:]


def test_contract_breaks_when_handlers_import_storage_internals(tree: Path) -> None:
    _breaks(
        tree,
        "handlers/_contract_probe.py",
        "import storage.sqlite\n",
        "Handlers reach storage through its interface only",
    )


@pytest.mark.parametrize("module", ["telegram", "sqlite3"])
def test_contract_breaks_when_the_questionnaire_imports_telegram_or_a_database(
    tree: Path, module: str
) -> None:
    _breaks(
        tree,
        "bot/questionnaire/_contract_probe.py",
        f"import {module}\n",
        "no crypto, no network, no files",
    )


def test_contract_breaks_when_the_server_imports_the_analysts_opening_code(tree: Path) -> None:
    _breaks(
        tree,
        "storage/_contract_probe.py",
        "import reportbot_analyst.opening\n",
        "The server never imports the analysts' opening code",
    )
