"""The server can seal and never open: no decrypt path in the bot's runtime, by three proofs.

1. Static: no runtime module imports ``reportbot_analyst`` (the opening code); the CLI modules that
   register analyst commands import it inside the commands only. The sealing, key and storage
   and handler modules name no private-key type or opening primitive.
2. Dynamic: importing the bot's runtime (and registering every CLI group) loads no
   ``reportbot_analyst`` module.
3. Types: mypy rejects calling ``decrypt`` on the boxes ``Recipients`` holds.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

RUNTIME_DIRS = ("bot", "handlers", "storage")
ANALYST_PACKAGE = "reportbot_analyst"
CLI_MODULES = {"bot/cli/__init__.py"} | {
    p.relative_to(ROOT).as_posix() for p in ROOT.glob("bot/cli_*.py")
}

NO_PRIVATE_KEYS = (
    "bot/sealing/envelope.py",
    "bot/sealing/keys.py",
    "bot/receipts",
    "bot/sealing/chat_handle.py",
    "handlers",
    "storage",
)
"""Modules that must not even name a private key type or an opening primitive.

A module that must open something with a key the bot derives itself belongs in its own module,
listed in ALLOWED with the reason.
"""
ALLOWED: dict[str, str] = {
    "bot/receipts/replies.py": (
        "the one server-side decrypt, by design: an analysts' reply is opened for the reporter "
        "who typed the right receipt code, with the reply key derived from that code (argon2id, "
        "bot/receipts/derivation.py); the server keeps only the code's lookup tag, never the code "
        "or the key, and holds no key that opens a report"
    ),
    "bot/sealing/chat_handle.py": (
        "cover mode's chat handle: a chat id the bot sealed itself in memory (SecretBox, a key "
        "made at start, never written) is opened to erase that chat at the idle timeout or a "
        "stop; the key opens nothing else, and nothing sealed with it leaves the process"
    ),
}

ALLOWED_IMPORTERS: dict[str, str] = {}
"""Runtime-tree modules allowed to import ``reportbot_analyst`` at module level, each with the
reason (e.g. a demo that plays both the bot and the analyst on one machine). Empty: none is."""

FORBIDDEN_NAMES = {
    "PrivateKey",
    "AnalystSecretKey",
    "crypto_box_seal_open",
    "crypto_box_open",
    "crypto_box_open_afternm",
    "crypto_aead_xchacha20poly1305_ietf_decrypt",
    "load_analyst_key",
    "open_envelope",
    "decrypt",
}


def _runtime_files() -> list[Path]:
    files: list[Path] = []
    for folder in RUNTIME_DIRS:
        files += sorted((ROOT / folder).rglob("*.py"))
    return [
        f
        for f in files
        if not f.relative_to(ROOT).as_posix().startswith("analyst/reportbot_analyst/")
    ]


def _imports(tree: ast.AST) -> list[tuple[ast.AST, str]]:
    found: list[tuple[ast.AST, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append((node, node.module))
            found += [(node, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def _is_analyst(name: str) -> bool:
    return name == ANALYST_PACKAGE or name.startswith(ANALYST_PACKAGE + ".")


def _deferred_imports(tree: ast.AST) -> set[int]:
    """Ids of import nodes that never run at import time: in a function or `if TYPE_CHECKING`."""
    deferred: set[int] = set()
    for node in ast.walk(tree):
        is_function = isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        is_type_checking = isinstance(node, ast.If) and ast.unparse(node.test) in (
            "TYPE_CHECKING",
            "typing.TYPE_CHECKING",
        )
        if is_function or is_type_checking:
            deferred |= {
                id(n) for n in ast.walk(node) if isinstance(n, ast.Import | ast.ImportFrom)
            }
    return deferred


def test_no_runtime_module_imports_the_opening_code() -> None:
    offenders = []
    for path in _runtime_files():
        rel = path.relative_to(ROOT).as_posix()
        if rel in ALLOWED_IMPORTERS:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        deferred = _deferred_imports(tree)
        for node, name in _imports(tree):
            if not _is_analyst(name):
                continue
            if rel in CLI_MODULES and id(node) in deferred:
                continue  # imported inside a command: loaded on an analyst's machine only
            offenders.append(f"{rel}:{getattr(node, 'lineno', '?')} imports {name}")
    assert offenders == []


def test_an_import_at_module_level_of_a_cli_module_is_caught() -> None:
    tree = ast.parse(
        "try:\n    import reportbot_analyst.toolkit\nexcept ImportError:\n    pass\n"
        "def cmd():\n    from reportbot_analyst import keys\n"
    )
    deferred = _deferred_imports(tree)
    flagged = [name for node, name in _imports(tree) if id(node) not in deferred]
    assert flagged == ["reportbot_analyst.toolkit"]


def test_sealing_keys_storage_and_handlers_name_no_private_key_or_opening() -> None:
    offenders = []
    for target in NO_PRIVATE_KEYS:
        base = ROOT / target
        paths = [base] if base.is_file() else sorted(base.rglob("*.py"))
        assert paths, f"{target} not found"
        for path in paths:
            rel = path.relative_to(ROOT).as_posix()
            if rel in ALLOWED:
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                name = None
                if isinstance(node, ast.Name):
                    name = node.id
                elif isinstance(node, ast.Attribute):
                    name = node.attr
                elif isinstance(node, ast.alias):
                    name = node.name.rsplit(".", 1)[-1]
                if name in FORBIDDEN_NAMES:
                    offenders.append(f"{rel}:{getattr(node, 'lineno', '?')} uses {name}")
    assert offenders == []


def test_each_allowed_decrypt_is_real_and_the_only_exception() -> None:
    """An allow-list entry that no longer decrypts (or a moved module) is stale: it must go."""
    for rel, reason in ALLOWED.items():
        assert reason.strip(), rel
        tree = ast.parse((ROOT / rel).read_text(encoding="utf-8"))
        names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        names |= {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
        assert names & FORBIDDEN_NAMES, f"{rel} is allowed to decrypt but does not"
        assert any(rel == t or rel.startswith(t + "/") for t in NO_PRIVATE_KEYS), rel


def test_the_check_above_would_catch_a_decrypt_call() -> None:
    tree = ast.parse("box = SealedBox(PrivateKey(k))\nbox.decrypt(c)\n")
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    names |= {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    assert names & FORBIDDEN_NAMES == {"PrivateKey", "decrypt"}


def test_importing_the_bot_runtime_loads_no_opening_code() -> None:
    script = textwrap.dedent(
        """
        import importlib, pathlib, sys
        import bot.cli, bot.sealing.keys, bot.sealing.envelope
        bot.cli._register()
        failed = []
        for package in ("bot", "handlers", "storage"):
            for path in sorted(pathlib.Path(package).rglob("*.py")):
                name = ".".join(path.with_suffix("").parts).removesuffix(".__init__")
                if name.startswith("reportbot_analyst") or name == "bot.__main__":
                    continue
                try:
                    importlib.import_module(name)
                except Exception as exc:  # reported, and the test fails on it
                    failed.append(f"{name}: {type(exc).__name__}")
        # The analysts' CLI shells are registered (entry point); what opens must not load.
        loaded = sorted(
            m for m in sys.modules
            if m.startswith("reportbot_analyst")
            and m != "reportbot_analyst"
            and not m.startswith("reportbot_analyst.cli")
        )
        print("LOADED", loaded)
        print("FAILED", failed)
        """
    )
    run = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "LOADED []" in run.stdout, run.stdout
    # Every runtime module was imported: a module that fails to import would escape the check.
    assert "FAILED []" in run.stdout, run.stdout


@pytest.mark.slow
def test_mypy_rejects_a_decrypt_call_on_the_bots_boxes(tmp_path: Path) -> None:
    snippet = tmp_path / "attempt.py"
    snippet.write_text(
        textwrap.dedent(
            """
            from bot.sealing.keys import Recipients


            def can_seal(recipients: Recipients, data: bytes) -> bytes:
                return recipients.boxes[0][1].encrypt(data)


            def cannot_open(recipients: Recipients, data: bytes) -> bytes:
                return recipients.boxes[0][1].decrypt(data)
            """
        ),
        encoding="utf-8",
    )
    config = tmp_path / "mypy.ini"
    config.write_text("[mypy]\nstrict = True\nfollow_imports = silent\n", encoding="utf-8")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(config),
            "--cache-dir",
            str(tmp_path / "cache"),
            str(snippet),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    errors = [line for line in run.stdout.splitlines() if ": error:" in line]
    assert len(errors) == 1, run.stdout
    assert "attempt.py:10:" in errors[0]  # the decrypt line; the encrypt line is fine
    assert 'Invalid self argument "SealedBox[PublicKey]"' in errors[0]
