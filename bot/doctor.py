"""``reportbot doctor``: is this installation fit to run? One line per check, each with its fix.

Checks, in order (the local ones also run as the container's health check, ``--quick``):

- settings: read exactly as ``reportbot run`` reads them (environment, ``.env``, secrets dir);
- the bot token is set (``--quick``) and Telegram accepts it (``getMe``);
- the bot's signing key: present, a bot signing key (not an analyst's private key), mode 0600;
- every analyst public key: a public key (an analyst PRIVATE key is refused), not replaceable by
  other users; and no analyst private key lies beside them on this machine;
- the flow and the bot's texts load (the rules of ``reportbot flows check``);
- the data directory and database: present, writable by this user, integrity, schema version,
  file modes and the pragmas every connection must have (``secure_delete``, ``trusted_schema``...);
- Telegram's side: webhook or long polling as configured (``getWebhookInfo``);
- the analyst channel: configured by numeric id, verified with the current analyst keys, and the
  checks the bot makes before every post (``bot.delivery.channel_checks``).

Nothing here writes: the database is read with plain ``sqlite3`` (no migration, no chmod), and the
Bot API methods called only read. No line carries a secret: the token, the webhook secret and key
material are never printed; paths, modes, fingerprints, ids of configured chats are.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import stat
from dataclasses import dataclass
from datetime import date
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Final

from bot.ops.settings import ENV_PREFIX, Settings
from bot.sealing.keys import (
    ANALYST_SECRET_TYPE,
    KEY_FILE_MAX_BYTES,
    AnalystPublicKey,
    KeyFileError,
    Recipients,
    load_analyst_public_key,
    load_bot_signing_key,
    load_recipients,
)
from storage import schema
from storage.base import ChannelBinding
from storage.errors import StorageError
from storage.maintenance import NoDatabaseError, check_database

if TYPE_CHECKING:
    from telegram import Bot
    from telegram.request import BaseRequest

PRAGMAS_EXPECTED: Final[dict[str, object]] = {
    "secure_delete": 1,
    "trusted_schema": 0,
    "foreign_keys": 1,
    "journal_mode": "delete",
    "synchronous": 2,  # FULL
    "auto_vacuum": 1,  # FULL
    "temp_store": 2,  # MEMORY
}
"""What every connection to the database must report (``storage.schema.CONNECTION_PRAGMAS`` and
the schema's own ``auto_vacuum``); ``docs/storage.md`` says why each one."""

KEY_DIR_SCAN_MAX: Final = 200
"""Files looked at when scanning a key folder for private keys that do not belong there."""


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


# --------------------------------------------------------------------------------------------
# Local checks
# --------------------------------------------------------------------------------------------


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


def check_flow(settings: Settings) -> Check:
    from bot.questionnaire.loader import FlowLoadError, load_flow, load_ui_texts

    try:
        flow = load_flow(settings.flow, settings.locales_dir)
        load_ui_texts(settings.locales_dir)
    except FlowLoadError as exc:
        first = str(exc).splitlines()[0] if str(exc) else "cannot be loaded"
        more = len(exc.problems) - 1
        extra = f" (and {more} more)" if more > 0 else ""
        return fail(
            "flow",
            f"{first}{extra}",
            f"run `reportbot flows check {settings.flow}` and correct what it names",
        )
    return ok(
        "flow",
        f"{flow.id} version {flow.version[:12]}, {len(flow.questions)} questions, "
        f"texts in {', '.join(sorted(flow.texts))}",
    )


def check_data_dir(settings: Settings) -> Check:
    data_dir = settings.data_dir
    name = "data directory"
    if not data_dir.exists():
        return fail(
            name,
            f"{data_dir} does not exist",
            f"create it (mode 0700, owned by the bot's user) or correct {ENV_PREFIX}DATA_DIR",
        )
    if data_dir.is_symlink() or not data_dir.is_dir():
        return fail(name, f"{data_dir} is not a plain directory", "use a real directory")
    if not os.access(data_dir, os.W_OK | os.X_OK):
        return fail(
            name,
            f"{data_dir} is not writable by this user (uid {os.getuid()})",
            f"chown {os.getuid()} {data_dir}; chmod 700 {data_dir}",
        )
    mode = stat.S_IMODE(data_dir.stat().st_mode)
    if mode & 0o077:
        return fail(name, f"{data_dir} has mode {mode:04o}", f"chmod 700 {data_dir}")
    return ok(name, f"{data_dir}, mode 0700, writable")


def _pragmas(db: Path) -> dict[str, object]:
    conn = schema.connect(db)
    try:
        found: dict[str, object] = {}
        for pragma in PRAGMAS_EXPECTED:
            row = conn.execute(f"PRAGMA {pragma}").fetchone()  # names are the constants above
            found[pragma] = row[0] if row else None
        return found
    finally:
        conn.close()


def check_database_health(settings: Settings) -> list[Check]:
    db = schema.database_path(settings.data_dir)
    restore = (
        "stop the bot, move the damaged file aside (do not delete it), restore the newest "
        "backup (docs/backups.md), start the bot, run `reportbot doctor` again"
    )
    try:
        result = check_database(settings.data_dir)
    except NoDatabaseError:
        return [
            fail(
                "database",
                f"no database at {db}",
                "start the bot once (`reportbot run` creates it), or restore a backup",
            )
        ]
    except sqlite3.DatabaseError as exc:
        return [fail("database", f"{db} is damaged: SQLite says '{exc}'", restore)]
    except (StorageError, OSError) as exc:
        return [fail("database", f"{db}: {exc}", restore)]
    checks: list[Check] = []
    if result.integrity != ("ok",):
        found = [
            line.strip()
            for entry in result.integrity
            for line in entry.splitlines()
            if line.strip() and not line.startswith("***")
        ]
        shown = "; ".join(found[:2])[:200] or "no answer"
        more = f" (and {len(found) - 2} more)" if len(found) > 2 else ""
        checks.append(
            fail("database", f"{db} failed SQLite's integrity check: {shown}{more}", restore)
        )
    else:
        checks.append(ok("database", f"{db}: integrity ok"))
    if result.version != result.latest:
        fix = (
            "start the bot: it upgrades the schema at start (take a backup first)"
            if result.version < result.latest
            else "this reportbot is older than the database: install the newer version again"
        )
        checks.append(
            fail(
                "database schema",
                f"version {result.version}, this reportbot expects {result.latest}",
                fix,
            )
        )
    else:
        checks.append(ok("database schema", f"version {result.version} (current)"))
    if result.problems:
        checks.extend(
            fail(
                "database files",
                problem,
                "chmod 700 the data directory and 600 its files; see docs/storage.md",
            )
            for problem in result.problems
        )
    else:
        checks.append(ok("database files", "modes 0600, no leftover -wal/-shm"))
    try:
        pragmas = _pragmas(db)
    except (sqlite3.Error, StorageError) as exc:
        checks.append(fail("database pragmas", f"cannot read them ({exc})", restore))
        return checks
    wrong = {k: v for k, v in pragmas.items() if v != PRAGMAS_EXPECTED[k]}
    if wrong:
        shown = ", ".join(f"{k}={v} (want {PRAGMAS_EXPECTED[k]})" for k, v in wrong.items())
        checks.append(
            fail(
                "database pragmas",
                shown,
                "this SQLite build or the file ignores a pragma the bot relies on; "
                "use the container image or a Python with a standard SQLite",
            )
        )
    else:
        checks.append(ok("database pragmas", ", ".join(f"{k}={v}" for k, v in pragmas.items())))
    return checks


def read_channel_binding(settings: Settings) -> ChannelBinding | None:
    """The recorded channel verification, read with plain sqlite3 (nothing is written)."""
    db = schema.database_path(settings.data_dir)
    if not db.is_file():
        return None
    conn = schema.connect(db)
    try:
        with contextlib.suppress(sqlite3.OperationalError):  # an old schema has no such table
            row = conn.execute(
                "SELECT channel_id, key_fingerprints, verified_day FROM channel_binding"
            ).fetchone()
            if row is not None:
                return ChannelBinding(
                    channel_id=int(row[0]),
                    key_fingerprints=tuple(f for f in str(row[1]).split(",") if f),
                    verified_day=date.fromisoformat(str(row[2])),
                )
        return None
    finally:
        conn.close()


def local_checks(settings: Settings) -> list[Check]:
    """Everything that needs no network: what ``--quick`` (the health check) runs."""
    checks = [check_token(settings), check_signing_key(settings)]
    checks += check_analyst_keys(settings)
    checks.append(check_no_analyst_private_keys(settings))
    checks.append(check_flow(settings))
    data = check_data_dir(settings)
    checks.append(data)
    if not data.failed or "does not exist" not in data.detail:
        checks += check_database_health(settings)
    return checks


# --------------------------------------------------------------------------------------------
# Network checks (Telegram)
# --------------------------------------------------------------------------------------------


async def telegram_checks(settings: Settings, request: BaseRequest | None = None) -> list[Check]:
    """The token (``getMe``), webhook or polling (``getWebhookInfo``), and the analyst channel.

    ``request``: how to reach the Bot API (tests pass a fake one); by default plain HTTPS to
    ``REPORTBOT_API_URL`` with short timeouts.
    """
    from telegram import Bot
    from telegram.error import InvalidToken, NetworkError, TelegramError
    from telegram.request import HTTPXRequest

    if settings.token is None:
        return [
            fail(
                "telegram",
                "cannot ask Telegram without a token",
                f"set {ENV_PREFIX}TOKEN (see the token line above)",
            )
        ]
    if request is None:
        request = HTTPXRequest(connect_timeout=10.0, read_timeout=15.0, pool_timeout=10.0)
    bot = Bot(
        settings.token.get_secret_value(),
        base_url=settings.bot_api_base_url,
        base_file_url=settings.bot_api_file_url,
        request=request,
        get_updates_request=request,
    )
    checks: list[Check] = []
    try:
        try:
            await bot.initialize()  # getMe
        except InvalidToken:
            # str(exc) quotes the token: never print it
            return [
                fail(
                    "telegram token",
                    "Telegram refused the token (Unauthorized)",
                    "copy the token again from @BotFather (/mybots > API Token); if it was "
                    f"revoked, put the new one in {ENV_PREFIX}TOKEN",
                )
            ]
        except NetworkError as exc:
            return [
                fail(
                    "telegram",
                    f"cannot reach {settings.api_url} ({type(exc).__name__})",
                    "let this server make HTTPS connections to api.telegram.org (or to "
                    f"{ENV_PREFIX}API_URL), then run the doctor again",
                )
            ]
        checks.append(ok("telegram token", f"valid: the bot is @{bot.username} (id {bot.id})"))
        try:
            info = await bot.get_webhook_info()
        except TelegramError as exc:
            checks.append(
                fail(
                    "telegram mode",
                    f"getWebhookInfo failed ({type(exc).__name__})",
                    "run the doctor again; if it persists, check the Bot API server",
                )
            )
        else:
            checks.append(_mode_check(settings, info.url, info.last_error_message))
        checks += await channel_checks(settings, bot)
    finally:
        with contextlib.suppress(TelegramError):
            await bot.shutdown()
    return checks


def _mode_check(settings: Settings, url: str, last_error: str | None) -> Check:
    name = "telegram mode"
    if settings.webhook_url is None:
        if url:
            return fail(
                name,
                "long polling is configured, but a webhook is set at Telegram",
                "start the bot (`reportbot run` removes the webhook when it starts polling); "
                "if the webhook comes back, another server uses this token: revoke the token",
            )
        return ok(name, "long polling (no webhook set at Telegram)")
    if url != settings.webhook_url:
        where = "no webhook" if not url else "a different webhook URL"
        return fail(
            name,
            f"{ENV_PREFIX}WEBHOOK_URL is configured, but Telegram has {where}",
            "start the bot (it sets its webhook when it starts); if another URL comes back, "
            "another server uses this token: revoke the token",
        )
    if last_error:
        return fail(
            name,
            f"webhook set, but Telegram's last delivery failed: {last_error[:200]}",
            "check that the webhook URL reaches this bot over HTTPS (proxy, certificate, port)",
        )
    return ok(name, "webhook set to the configured URL, no delivery error")


_CHANNEL_FIX: Final[dict[str, str]] = {
    "no_channel_configured": (
        f"set {ENV_PREFIX}CHANNEL_ID to the channel's numeric id (-100...), docs/setup.md step 4"
    ),
    "wrong_id": (
        f"put the verified channel's id back in {ENV_PREFIX}CHANNEL_ID, or verify the new "
        "channel: `reportbot channel verify`"
    ),
    "not_verified": (
        "run `reportbot channel verify`; each analyst opens the challenge with "
        "`reportbot analyst verify-channel` and sends the code to the bot (docs/setup.md step 6)"
    ),
    "channel_unreachable": (
        f"check {ENV_PREFIX}CHANNEL_ID (the numeric -100... id, docs/setup.md step 4) and add "
        "the bot to the channel as an administrator"
    ),
    "not_a_channel": f"{ENV_PREFIX}CHANNEL_ID must name a channel, not a group or a chat",
    "public_username": (
        "channel settings > Channel type > Private (remove the public link); a public channel "
        "can be read by anyone"
    ),
    "bot_not_admin": "make the bot an administrator of the channel",
    "bot_cannot_post": "give the bot the right to post messages in the channel",
    "unknown_admin": (
        "remove the unknown administrator from the channel, or, if it is an analyst, add their "
        f"Telegram account id to {ENV_PREFIX}CHANNEL_ADMIN_IDS"
    ),
}


def _channel_line(name: str, failed: object, explanation: str, good: str) -> Check:
    if failed is None:
        return ok(name, good)
    code = str(failed)
    return fail(name, f"{code}: {explanation}", _CHANNEL_FIX.get(code, "see docs/setup.md"))


async def channel_checks(settings: Settings, bot: Bot) -> list[Check]:
    """The checks the bot makes before every digest (``channel_checks.ChannelChecker``)."""
    from bot.delivery.channel_checks import ChannelChecker
    from storage.memory import MemoryReportStore

    try:
        recipients, _ = load_recipients(list(settings.analyst_public_keys))
    except (KeyFileError, OSError):
        return [skip("analyst channel", "needs working analyst keys (see above)")]
    store = MemoryReportStore()
    try:
        binding = read_channel_binding(settings)
    except (sqlite3.Error, StorageError):
        binding = None
    if binding is not None:
        await store.set_channel_binding(binding)
    checker = ChannelChecker(
        store,
        channel_id=settings.channel_id,
        allowed_admins=settings.channel_admin_ids,
        recipients=recipients,
    )
    checks: list[Check] = []
    local = await checker.binding_check()
    verified = (
        f"channel {settings.channel_id} verified for the {len(recipients)} current analyst key(s)"
    )
    checks.append(_channel_line("channel verification", local.failed, local.explanation, verified))
    if settings.channel_id is None:
        return checks
    from telegram.error import TelegramError

    try:
        remote = await checker.telegram_check(bot)
    except TelegramError as exc:
        checks.append(
            fail(
                "analyst channel",
                f"Telegram did not answer ({type(exc).__name__})",
                "run the doctor again in a minute",
            )
        )
        return checks
    checks.append(
        _channel_line(
            "analyst channel",
            remote.failed,
            remote.explanation,
            f"channel {settings.channel_id}: private, the bot may post, every administrator "
            "is the bot or an allowed analyst",
        )
    )
    if remote.ok and remote.missing:
        from bot.delivery.channel_checks import keys_held_by

        listed = len(settings.channel_admin_ids)
        where = ", ".join(f"#{n}" for n in remote.missing)
        accounts = list(settings.channel_admin_ids)
        missing = [accounts[n - 1] for n in remote.missing]
        present = [a for a in accounts if a not in missing]
        held = keys_held_by(settings.data_dir, accounts)
        still_read = {fp for a in present for fp in held.get(a, [])}
        orphaned = sorted({fp for a in missing for fp in held.get(a, [])} - still_read)
        whose = (
            "; nobody in the channel holds the key with fingerprint "
            + ", ".join(" ".join(fp[i : i + 5] for i in range(0, 25, 5)) for fp in orphaned)
            if orphaned
            else ""
        )
        checks.append(
            fail(
                "analysts in the channel",
                f"account(s) {where} of the {listed} in REPORTBOT_CHANNEL_ADMIN_IDS are not "
                "administrators of the channel: digests still go out, but the analyst key "
                f"held by that account is read by nobody in the channel{whose}",
                "add them as administrators (docs/setup.md, step 4), or remove their id and "
                "their key (then run reportbot channel verify)",
            )
        )
    return checks


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


def skipped_network_checks() -> list[Check]:
    reason = "--quick skips the checks that call Telegram"
    return [skip("telegram", reason), skip("analyst channel", reason)]


async def diagnose(
    settings: Settings, *, quick: bool, request: BaseRequest | None = None
) -> Report:
    """Run every check; the Telegram ones (through ``request``) unless ``quick``."""
    checks = local_checks(settings)
    if quick:
        checks += skipped_network_checks()
    else:
        checks += await telegram_checks(settings, request)
    return Report(tuple(checks))
