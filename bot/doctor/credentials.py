"""The secrets and keys: the bot token is set, the bot's signing key, every analyst public key,
and no analyst private key on this machine."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Final

from bot.doctor.result import Check, fail, ok
from bot.ops.settings import ENV_PREFIX, Settings
from bot.sealing.keys import (
    ANALYST_SECRET_TYPE,
    KEY_FILE_MAX_BYTES,
    AnalystPublicKey,
    KeyFileError,
    Recipients,
    load_analyst_public_key,
    load_bot_signing_key,
)

KEY_DIR_SCAN_MAX: Final = 200
"""Files looked at when scanning a key folder for private keys that do not belong there."""


def check_token(settings: Settings) -> Check:
    if settings.token is None:
        return fail(
            "token",
            f"{ENV_PREFIX}TOKEN is not set",
            "put the token from @BotFather in the secrets file reportbot_token "
            f"(/run/secrets/reportbot_token) or in {ENV_PREFIX}TOKEN",
        )
    # Its shape was checked when the settings were read; --quick stops here (no network).
    return ok("token", "set, shaped like a token (the full doctor asks Telegram if it is valid)")


def check_signing_key(settings: Settings) -> Check:
    name = "bot signing key"
    path = settings.bot_signing_key
    if path is None:
        return fail(
            name,
            f"{ENV_PREFIX}BOT_SIGNING_KEY is not set: digests could not be signed",
            f"run `reportbot keys new-bot --out /keys` and set {ENV_PREFIX}BOT_SIGNING_KEY to "
            "the bot.key it writes",
        )
    try:
        key = load_bot_signing_key(path)
    except KeyFileError as exc:
        return fail(name, str(exc), _key_fix(exc, path))
    except OSError as exc:
        return fail(name, f"{path}: cannot read ({exc.strerror})", f"make {path} readable")
    return ok(name, f"{path}, mode 0600, fingerprint {key.public.fingerprint}")


def _key_fix(exc: KeyFileError, path: Path) -> str:
    text = str(exc)
    if "chmod" in text or "read by others" in text:
        return f"chmod 600 {path} (and make sure only the bot's user owns it)"
    if "analyst PRIVATE key" in text:
        return (
            f"remove {path} from this server at once (keep it only on the analyst's machine); "
            "point the setting at the bot's own bot.key"
        )
    if "no such key file" in text:
        return "check the path, or make the key with `reportbot keys new-bot`"
    return "give the bot's own bot.key made by `reportbot keys new-bot`"


def _others_can_replace(path: Path) -> str | None:
    """Why another user could replace this public key file (and so read what is sealed)."""
    try:
        st = path.stat()
        parent = path.parent.stat()
    except OSError:
        return None
    if stat.S_IMODE(st.st_mode) & 0o022:
        return f"{path} can be changed by other users (mode {stat.S_IMODE(st.st_mode):04o})"
    if stat.S_IMODE(parent.st_mode) & 0o022 and not stat.S_IMODE(parent.st_mode) & stat.S_ISVTX:
        mode = stat.S_IMODE(parent.st_mode)
        return f"folder {path.parent} lets other users replace files in it (mode {mode:04o})"
    return None


def check_analyst_keys(settings: Settings) -> list[Check]:
    specs = settings.analyst_public_keys
    if not specs:
        return [
            fail(
                "analyst keys",
                f"{ENV_PREFIX}ANALYST_PUBLIC_KEYS is empty: nothing could be sealed to anyone",
                "list the analysts' .pub files (`reportbot keys new-analyst`), comma-separated",
            )
        ]
    checks: list[Check] = []
    loaded: list[AnalystPublicKey] = []
    for spec in specs:
        name = f"analyst key {spec}"
        try:
            key = load_analyst_public_key(spec)
        except KeyFileError as exc:
            fix = (
                f"delete {spec} from this server at once (a private key belongs only on its "
                "analyst's machine) and give the matching .pub file instead"
                if "PRIVATE" in str(exc) or "private" in str(exc)
                else "give the analyst's .pub file from `reportbot keys new-analyst`"
            )
            checks.append(fail(name, str(exc), fix))
            continue
        except OSError as exc:
            checks.append(fail(name, f"cannot read ({exc.strerror})", f"make {spec} readable"))
            continue
        loose = _others_can_replace(Path(spec))
        if loose is not None:
            checks.append(
                fail(
                    name,
                    f"{loose}: whoever replaces it with their own key reads every new report",
                    f"chmod 644 {spec}; chmod go-w {Path(spec).parent}",
                )
            )
            continue
        loaded.append(key)
        checks.append(ok(name, f"public key, fingerprint {key.fingerprint}"))
    if len(loaded) == len(specs):
        try:
            Recipients(loaded)
        except KeyFileError as exc:
            checks.append(fail("analyst keys", str(exc), "list each analyst's key once"))
    return checks


def _is_analyst_private_key(path: Path) -> bool:
    try:
        st = path.lstat()
        if not stat.S_ISREG(st.st_mode) or st.st_size > KEY_FILE_MAX_BYTES:
            return False
        text = path.read_text(encoding="utf-8")
        doc = json.loads(text)
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(doc, dict) and doc.get("type") == ANALYST_SECRET_TYPE


def check_no_analyst_private_keys(settings: Settings) -> Check:
    """An analyst's private key beside the bot's keys would hand every report to a thief."""
    folders: list[Path] = []
    for spec in (*settings.analyst_public_keys, settings.bot_signing_key):
        if spec is None:
            continue
        folder = Path(spec).parent
        if folder.is_dir() and folder not in folders:
            folders.append(folder)
    found: list[Path] = []
    for folder in folders:
        try:
            entries = sorted(folder.iterdir())[:KEY_DIR_SCAN_MAX]
        except OSError:
            continue
        found += [p for p in entries if _is_analyst_private_key(p)]
    shown = ", ".join(str(p) for p in folders) or "(no key folder configured)"
    if found:
        return fail(
            "no analyst private key here",
            f"analyst PRIVATE key found on the server: {', '.join(str(p) for p in found)}",
            "delete it from this machine and its backups now; if it may have been copied, "
            "rotate that analyst's key (docs/keys.md)",
        )
    return ok("no analyst private key here", f"none in {shown}")
