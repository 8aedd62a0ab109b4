"""What each install really contains, listed from the installed files (not the source tree).

The server's install (``scripts/install.sh runtime``, the Dockerfile's line) must physically lack
the code that opens envelopes and digests: no ``reportbot_analyst``, no analysts' commands, and in
the files it installs no private-key type or opening primitive, except the one decryption the
server performs by design (``bot/receipts``: analysts' replies, opened with a key derived from
the reporter's receipt code, ``PrivateKey.from_seed`` only).
"""

from __future__ import annotations

import ast
import csv
import json
import subprocess
from pathlib import Path

import pytest

from bot.sealing.keys import Recipients, load_analyst_public_key
from tests.analyst_support import SAMPLE_ANSWERS, Bot, Report, edited_flow, shipped_flow
from tests.install_support import install, installed_python_files, run_installed, runtime_venv
from tests.test_no_decrypt_path import FORBIDDEN_NAMES

pytestmark = pytest.mark.slow

ALLOWED_OPENERS: dict[str, str] = {
    "bot/receipts/": (
        "opens analysts' replies for a reporter, with the reply key derived from the receipt "
        "code the reporter typed (PrivateKey.from_seed); it holds no analyst key"
    ),
    "bot/sealing/chat_handle.py": (
        "cover mode's chat handle: opens a chat id the bot sealed itself in memory (SecretBox, a "
        "key made at start and never written), to erase that chat at the idle timeout or a stop; "
        "the key opens nothing else (tests/test_no_decrypt_path.py lists it with the same reason)"
    ),
}
"""Installed folders allowed to derive a private key and decrypt, each with its reason."""

DERIVED_ONLY = {"PrivateKey", "decrypt"}
"""What an allowed opener may name: a key derived from a seed (``PrivateKey.from_seed``) and
``decrypt`` with it. Everything else in FORBIDDEN_NAMES (analyst keys, envelope opening) stays
forbidden there too."""


@pytest.fixture(scope="session")
def server_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return runtime_venv(tmp_path_factory.mktemp("install"))


def _names(tree: ast.AST) -> list[tuple[int, str, ast.AST]]:
    found: list[tuple[int, str, ast.AST]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            found.append((node.lineno, node.id, node))
        elif isinstance(node, ast.Attribute):
            found.append((node.lineno, node.attr, node))
        elif isinstance(node, ast.alias):
            found.append((getattr(node, "lineno", 0), node.name.rsplit(".", 1)[-1], node))
    return found


def _from_seed_uses(tree: ast.AST) -> set[int]:
    """Ids of ``PrivateKey`` Name nodes used as ``PrivateKey.from_seed``."""
    return {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and node.attr == "from_seed"
        and isinstance(node.value, ast.Name)
        and node.value.id == "PrivateKey"
    }


def opening_code(files: dict[str, Path]) -> list[str]:
    """Every use of a private-key type or opening primitive in the given installed files."""
    offenders: list[str] = []
    for rel, path in sorted(files.items()):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        allowed = next(
            (reason for prefix, reason in ALLOWED_OPENERS.items() if rel.startswith(prefix)), None
        )
        seeded = _from_seed_uses(tree)
        for line, name, node in _names(tree):
            if name not in FORBIDDEN_NAMES:
                continue
            if allowed is not None and name in DERIVED_ONLY:
                is_import = isinstance(node, ast.alias)
                if name == "decrypt" or is_import or id(node) in seeded:
                    continue
            offenders.append(f"{rel}:{line} uses {name}")
    return sorted(offenders)


def test_server_install_contains_no_code_that_opens_envelopes_or_digests(
    server_venv: Path, tmp_path: Path
) -> None:
    files = installed_python_files(server_venv, "reportbot")
    tops = {rel.split("/")[0] for rel in files}
    assert tops == {"bot", "handlers", "storage"}, tops
    assert len(files) > 50  # the whole runtime was listed, not an empty RECORD
    assert opening_code(files) == []
    # And the distribution that opens things is not there at all, by any name.
    site = next(server_venv.glob("lib/python3*/site-packages"))
    present = sorted(p.name for p in site.iterdir() if "analyst" in p.name.lower())
    assert present == []
    probe = run_installed(
        server_venv,
        "python",
        "-c",
        "import importlib.metadata as m, importlib.util as u;"
        "print(u.find_spec('reportbot_analyst'), list(m.entry_points(group='reportbot.commands')))",
        cwd=tmp_path,
    )
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.strip() == "None []"


def test_server_install_has_no_analyst_commands(server_venv: Path, tmp_path: Path) -> None:
    for command in (["analyst", "open", "--help"], ["keys", "new-analyst", "--help"], ["demo"]):
        run = run_installed(server_venv, "reportbot", *command, cwd=tmp_path)
        assert run.returncode == 2, (command, run.stdout, run.stderr)
        assert "No such command" in run.stderr
    # What the server does need is there.
    run = run_installed(
        server_venv, "reportbot", "keys", "new-bot", "--out", tmp_path / "k", cwd=tmp_path
    )
    assert run.returncode == 0, run.stderr


def test_the_listing_catches_an_opening_primitive_outside_the_allowed_opener(
    tmp_path: Path,
) -> None:
    planted = {
        "bot/delivery/sneaky.py": "from nacl.public import PrivateKey, SealedBox\n"
        "SealedBox(PrivateKey(b'k' * 32)).decrypt(b'')\n",
        "bot/receipts/fine.py": "from nacl.public import PrivateKey, SealedBox\n"
        "SealedBox(PrivateKey.from_seed(b's' * 32)).decrypt(b'')\n",
        "bot/receipts/not_fine.py": "from nacl.public import PrivateKey\nPrivateKey(b'k' * 32)\n"
        "from reportbot_analyst.opening import open_envelope\n",
    }
    files = {}
    for rel, text in planted.items():
        path = tmp_path / rel.replace("/", "_")
        path.write_text(text, encoding="utf-8")
        files[rel] = path
    assert sorted(opening_code(files)) == [
        "bot/delivery/sneaky.py:1 uses PrivateKey",
        "bot/delivery/sneaky.py:2 uses PrivateKey",
        "bot/delivery/sneaky.py:2 uses decrypt",
        "bot/receipts/not_fine.py:2 uses PrivateKey",
        "bot/receipts/not_fine.py:3 uses open_envelope",
    ]


# ---- the analysts' install, outside any checkout ----


@pytest.fixture(scope="session")
def analyst_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One analyst install per test session (``scripts/install.sh analyst``), shared."""
    return install("analyst", tmp_path_factory.mktemp("analyst-install") / "venv")


def test_analyst_install_holds_the_toolkit_as_installed_files(analyst_venv: Path) -> None:
    files = installed_python_files(analyst_venv, "reportbot-analyst")
    assert {rel.split("/")[0] for rel in files} == {"reportbot_analyst"}
    assert "reportbot_analyst/workspace.py" in files
    site = next(analyst_venv.glob("lib/python3*/site-packages"))
    assert all(path.is_relative_to(site) for path in files.values())  # not an editable link


async def test_analyst_install_opens_digests_of_two_flow_versions_outside_a_checkout(
    analyst_venv: Path, tmp_path: Path
) -> None:
    desk = tmp_path / "desk"  # an analyst's home: no checkout, no flows/, no locales/
    desk.mkdir()

    def reportbot(*args: str | Path) -> subprocess.CompletedProcess[str]:
        return run_installed(analyst_venv, "reportbot", *args, cwd=desk)

    made = reportbot("keys", "new-analyst", "--out", "keys", "--name", "alice", "--no-passphrase")
    assert made.returncode == 0, made.stderr
    public = load_analyst_public_key(desk / "keys" / "alice.pub")
    # The bot's side (this checkout's code): reports in the shipped flow and in an edited one,
    # a restart in between, digests posted into a "channel" folder.
    old, new = shipped_flow(), edited_flow(shipped_flow())
    bot = Bot(Recipients([public]), tmp_path / "server-data")
    (desk / "keys" / "bot.pub").write_text(bot.signing.public.token() + "\n", encoding="ascii")
    channel = desk / "channel"
    bot.run([old])
    await bot.report(Report(old, SAMPLE_ANSWERS, lang="ko"))
    await bot.digest(channel)
    bot.run([new])
    await bot.report(Report(new, SAMPLE_ANSWERS, lang="ru"))
    await bot.digest(channel)

    verified = reportbot("analyst", "verify", "channel", "--bot-key", "keys/bot.pub")
    assert verified.returncode == 0, verified.stderr
    assert "sequence: #1-#2, no gap" in verified.stdout
    for lang in ("ko", "ru"):
        out = desk / f"reports-{lang}"
        args = ("analyst", "open", "channel", "--key", "keys/alice.key", "--out", out)
        opened = reportbot(*args, "--lang", lang, "--html", "--no-progress")
        assert opened.returncode == 0, opened.stderr
        assert opened.stderr == ""  # no "raw ids", no warning of any kind
        docs = [
            json.loads(line) for line in (out / "reports.jsonl").read_text("utf-8").splitlines()
        ]
        assert sorted(d["flow_version"] for d in docs) == sorted([old.version, new.version])
        for doc in docs:
            assert doc["labels"] == lang
            texts = {a["question"]: a["text"] for a in doc["answers"]}
            assert texts["site"] == old.text(lang, "site.choice.construction")
        before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
        assert (out / "html" / "index.html").is_file()  # the templates were installed too
        # Every column is labelled: no header is a bare question id.
        header = (out / "reports-worker_report.csv").read_text("utf-8-sig").splitlines()[0]
        ids = {q.id for q in old.questions} | {"report", "status", "day", "week", "lang"}
        assert not [h for h in next(csv.reader([header])) if h in ids or h.split(": ")[0] in ids]
        again = reportbot(*args, "--lang", lang, "--html", "--no-progress")
        assert again.returncode == 0
        assert again.stderr == ""
        assert "added 0 new digest(s), 2 already in the workspace" in again.stdout
        assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    # A forged re-use of a sequence number (signed with the bot's key) is the one alarm.
    forger = Bot(Recipients([public]), tmp_path / "forger-data", signing=bot.signing)
    forger.run([old])
    await forger.report(Report(old, SAMPLE_ANSWERS))
    for path in await forger.digest(tmp_path / "forged"):
        path.rename(channel / f"x-{path.name}")
    args = ("analyst", "open", "channel", "--key", "keys/alice.key", "--out", desk / "reports-ko")
    alarmed = reportbot(*args, "--lang", "ko", "--no-progress")
    assert alarmed.returncode == 1
    lines = alarmed.stderr.splitlines()
    assert len([line for line in lines if "ALARM:" in line]) == 1
    assert [line for line in lines if "ALARM:" not in line and not line.startswith("Error:")] == []
    # The toolkit really ran from the install, not from this checkout.
    where = run_installed(
        analyst_venv,
        "python",
        "-c",
        "import reportbot_analyst; print(reportbot_analyst.__file__)",
        cwd=desk,
    )
    assert str(analyst_venv) in where.stdout
