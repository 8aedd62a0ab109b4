"""The analyst channel: the checks before every post, and the one-time verification handshake.

Before every document it posts, the bot asks Telegram and refuses to post unless all of these
hold (:class:`ChannelChecker`, the order of :class:`Check`):

1. a channel id is configured, and it is the one the verification recorded (``wrong_id``);
2. the verification recorded exactly the analyst keys the bot seals to now (``not_verified``);
3. ``getChat``: the chat is a channel, with that very id, and has no public ``@username``;
4. ``getChatMember`` (the bot): the bot is an administrator allowed to post;
5. ``getChatAdministrators`` (bots included): every administrator is the bot itself or one of
   the analysts' accounts in the settings.

The handshake (:class:`ChannelVerifier`) proves once that whoever reads the channel holds the
analyst keys: ``reportbot channel verify`` posts, for each analyst key, a challenge sealed to
that key alone (a random code); each analyst opens theirs with ``reportbot analyst
verify-channel`` and sends the code to the bot from an account on the allowed list. When every
key's code has come back, the bot records the binding (channel id + key fingerprints) in the
store. A different channel or a different set of keys needs a new verification (check 1 or 2
fails until then). Only an unkeyed BLAKE2b digest of each code (20 random digits, about 66 bits:
not reversible by trying codes) is kept while the handshake is open, in a small file of the data
directory, so the command and the running bot need not be the same process.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import os
import re
import secrets
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

import nacl.hash
from nacl.encoding import RawEncoder
from telegram import Bot, ChatMemberAdministrator, ChatMemberOwner, Update
from telegram.constants import ChatType
from telegram.error import BadRequest, ChatMigrated, Forbidden, InvalidToken
from telegram.ext import ApplicationHandlerStop, ContextTypes

from bot.sealing.envelope import seal_record, sign_challenge
from bot.sealing.keys import BotSigningKey, Recipients
from storage.base import ChannelBinding, ReportStore

log = logging.getLogger("bot.delivery.channel_checks")

CHALLENGE_KIND: Final = "channel_challenge"
"""Record kind of a sealed challenge (see ``docs/digests.md``); the toolkit opens it."""

PENDING_FILE: Final = "channel-verify.json"
CHALLENGE_DIGITS: Final = 20
"""About 66 bits: nobody guesses a code, and an analyst can read it out or paste it."""
CHALLENGE_DAYS: Final = 7
MAX_WRONG_ANSWERS: Final = 10
_ANSWER_PERSON: Final = b"rb-chan-answer-1"
_CODE_RE: Final = re.compile(r"^\d{%d}$" % CHALLENGE_DIGITS)  # noqa: UP031 - a regex with braces
_SEPARATORS: Final = re.compile(r"[\s\-]+")

CODE_IN_CHANNEL: Final = (
    "This code does not count here: send it to the bot in a private chat (open the bot's "
    "profile, press Message, paste the code). Everyone in this channel can read it: delete "
    "it here, and if anyone but the key's holder may have seen it, run reportbot channel "
    "verify again for a new code."
)
"""The bot's answer, in the channel, to a handshake code posted there."""

PERMANENT_ERRORS: Final = (BadRequest, Forbidden, InvalidToken, ChatMigrated)
"""Telegram refusals that waiting will not change (BadRequest subclasses NetworkError: catch
these before NetworkError)."""


class Check(StrEnum):
    """The checks, in the order they run; the value is what the alert line names."""

    NO_CHANNEL = "no_channel_configured"
    WRONG_ID = "wrong_id"
    NOT_VERIFIED = "not_verified"
    UNREACHABLE = "channel_unreachable"
    NOT_A_CHANNEL = "not_a_channel"
    PUBLIC_USERNAME = "public_username"
    BOT_NOT_ADMIN = "bot_not_admin"
    BOT_CANNOT_POST = "bot_cannot_post"
    UNKNOWN_ADMIN = "unknown_admin"


_EXPLAIN: Final[dict[Check, str]] = {
    Check.NO_CHANNEL: "no channel configured (REPORTBOT_CHANNEL_ID)",
    Check.WRONG_ID: "the configured channel is not the one that was verified",
    Check.NOT_VERIFIED: (
        "the channel has not been verified for the current analyst keys "
        "(run: reportbot channel verify)"
    ),
    Check.UNREACHABLE: "the bot cannot see the channel (not a member, or a wrong id)",
    Check.NOT_A_CHANNEL: "the chat is not a channel",
    Check.PUBLIC_USERNAME: "the channel has a public @username: make it private",
    Check.BOT_NOT_ADMIN: "the bot is not an administrator of the channel",
    Check.BOT_CANNOT_POST: "the bot is an administrator but may not post messages",
    Check.UNKNOWN_ADMIN: (
        "an administrator of the channel is neither the bot nor on the allowed list "
        "(REPORTBOT_CHANNEL_ADMIN_IDS)"
    ),
}


class ChannelError(Exception):
    """A channel problem for the command line. ``str(exc)`` is one line."""


@dataclass(frozen=True)
class CheckResult:
    failed: Check | None = None
    missing: tuple[int, ...] = ()
    """Positions (1-based, in REPORTBOT_CHANNEL_ADMIN_IDS) of listed analysts who are not
    administrators of the channel: an alert, not a failure (never their ids: no log carries
    a Telegram id)."""

    @property
    def ok(self) -> bool:
        return self.failed is None

    @property
    def explanation(self) -> str:
        return "all channel checks hold" if self.failed is None else _EXPLAIN[self.failed]


def compact_fingerprint(fingerprint: str) -> str:
    """A fingerprint as stored in the binding: its 25 digits, no spaces."""
    return fingerprint.replace(" ", "")


def key_fingerprints(recipients: Recipients) -> tuple[str, ...]:
    return tuple(sorted(compact_fingerprint(k.fingerprint) for k in recipients.keys))


class ChannelChecker:
    """Runs the checks; transient Telegram errors (``RetryAfter``, timeouts, network) propagate."""

    def __init__(
        self,
        store: ReportStore,
        *,
        channel_id: int | None,
        allowed_admins: Collection[int],
        recipients: Recipients,
    ) -> None:
        self.store = store
        self.channel_id = channel_id
        self._allowed = frozenset(allowed_admins)
        self.listed = tuple(allowed_admins)
        self.fingerprints = key_fingerprints(recipients)

    async def binding_check(self) -> CheckResult:
        """Checks 1 and 2: local, no Telegram call."""
        if self.channel_id is None:
            return CheckResult(Check.NO_CHANNEL)
        binding = await self.store.channel_binding()
        if binding is None:
            return CheckResult(Check.NOT_VERIFIED)
        if binding.channel_id != self.channel_id:
            return CheckResult(Check.WRONG_ID)
        if tuple(sorted(binding.key_fingerprints)) != self.fingerprints:
            return CheckResult(Check.NOT_VERIFIED)
        return CheckResult()

    async def telegram_check(self, bot: Bot) -> CheckResult:
        """Checks 3 to 5: what Telegram says about the channel now."""
        if self.channel_id is None:
            return CheckResult(Check.NO_CHANNEL)
        try:
            chat = await bot.get_chat(self.channel_id)
            if chat.id != self.channel_id:
                return CheckResult(Check.WRONG_ID)
            if chat.type != ChatType.CHANNEL:
                return CheckResult(Check.NOT_A_CHANNEL)
            if chat.username:
                return CheckResult(Check.PUBLIC_USERNAME)
            me = await bot.get_chat_member(self.channel_id, bot.id)
            if isinstance(me, ChatMemberOwner):
                pass  # a bot cannot own a channel; an owner may post anyway
            elif not isinstance(me, ChatMemberAdministrator):
                return CheckResult(Check.BOT_NOT_ADMIN)
            elif not me.can_post_messages:
                return CheckResult(Check.BOT_CANNOT_POST)
            admins = await bot.get_chat_administrators(self.channel_id, return_bots=True)
        except PERMANENT_ERRORS:
            return CheckResult(Check.UNREACHABLE)
        for admin in admins:
            uid = admin.user.id
            if uid != bot.id and uid not in self._allowed:
                return CheckResult(Check.UNKNOWN_ADMIN)
        present = {admin.user.id for admin in admins}
        missing = tuple(n for n, uid in enumerate(self.listed, start=1) if uid not in present)
        return CheckResult(missing=missing)

    async def check(self, bot: Bot, *, require_binding: bool = True) -> CheckResult:
        """Every check; ``require_binding=False`` skips 1-2 (for the handshake itself)."""
        if require_binding:
            local = await self.binding_check()
            if not local.ok:
                return local
        return await self.telegram_check(bot)


# --------------------------------------------------------------------------------------------
# The handshake
# --------------------------------------------------------------------------------------------


def normalise_code(text: str) -> str | None:
    """The digits of a challenge code as typed or pasted, or None if it is not one."""
    digits = _SEPARATORS.sub("", text.strip())
    return digits if _CODE_RE.fullmatch(digits) else None


def format_code(digits: str) -> str:
    return " ".join(digits[i : i + 4] for i in range(0, len(digits), 4))


def _unkeyed_answer_digest(digits: str) -> str:
    """BLAKE2b of the 20 random digits, with no key: named so, since it was once called keyed.

    Safe without a key only because the code is random (about 66 bits) and valid 7 days.
    """
    return nacl.hash.blake2b(
        digits.encode("ascii"), digest_size=32, person=_ANSWER_PERSON, encoder=RawEncoder
    ).hex()


@dataclass(frozen=True)
class Challenge:
    """One posted challenge (shown to the operator: which key, which document)."""

    fingerprint: str  # spaced, as people read it
    file_name: str
    message_id: int


class AnswerStatus(StrEnum):
    NO_CHALLENGE = "no_challenge"
    WRONG = "wrong"
    ALREADY = "already"
    ACCEPTED = "accepted"
    VERIFIED = "verified"
    KEYS_CHANGED = "keys_changed"
    EXPIRED = "expired"


@dataclass(frozen=True)
class AnswerOutcome:
    status: AnswerStatus
    remaining: int = 0

    def message(self) -> str:
        """The bot's reply to the analyst (English: analysts' setup, not reporters' texts)."""
        return {
            AnswerStatus.NO_CHALLENGE: "No channel verification is waiting for a code.",
            AnswerStatus.WRONG: "That code does not match a waiting channel challenge.",
            AnswerStatus.ALREADY: "That key's code was already accepted.",
            AnswerStatus.ACCEPTED: (
                f"Code accepted. Waiting for {self.remaining} more analyst key(s)."
            ),
            AnswerStatus.VERIFIED: "Channel verified. Digests will be posted to it.",
            AnswerStatus.KEYS_CHANGED: (
                "The analyst keys changed since the challenge. Run reportbot channel verify again."
            ),
            AnswerStatus.EXPIRED: (
                "The channel challenge expired or failed too often. "
                "Run reportbot channel verify again."
            ),
        }[self.status]


def _write_private_json(path: Path, doc: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, json.dumps(doc, sort_keys=True).encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


KEYHOLDERS_FILE: Final = "channel-keyholders.json"
_HOLDER_PERSON: Final = b"rb-keyholder-v1\x00"


def _holder_hash(salt: bytes, account: int) -> str:
    return nacl.hash.blake2b(
        str(account).encode("ascii"),
        key=salt,
        digest_size=16,
        person=_HOLDER_PERSON,
        encoder=RawEncoder,
    ).hex()


def record_key_holder(data_dir: Path, fingerprint: str, account: int) -> None:
    """Remember which account sent a key's handshake code: a keyed hash of the account, so the
    file holds no Telegram id (the doctor recomputes it from REPORTBOT_CHANNEL_ADMIN_IDS)."""
    path = Path(data_dir) / KEYHOLDERS_FILE
    doc: dict[str, Any] = {}
    with contextlib.suppress(OSError, ValueError):
        loaded = json.loads(path.read_text(encoding="ascii"))
        doc = loaded if isinstance(loaded, dict) else {}
    salt_hex = doc.get("salt")
    if not isinstance(salt_hex, str) or len(salt_hex) != 64:
        salt_hex = secrets.token_hex(32)
        doc = {"salt": salt_hex, "holders": {}}
    holders = doc.setdefault("holders", {})
    holders[fingerprint] = _holder_hash(bytes.fromhex(salt_hex), account)
    _write_private_json(path, doc)


def keys_held_by(data_dir: Path, accounts: Collection[int]) -> dict[int, list[str]]:
    """account -> fingerprints of the keys whose handshake code it sent (as far as recorded)."""
    path = Path(data_dir) / KEYHOLDERS_FILE
    try:
        doc = json.loads(path.read_text(encoding="ascii"))
        salt = bytes.fromhex(doc["salt"])
        holders = {str(k): str(v) for k, v in doc["holders"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}
    out: dict[int, list[str]] = {}
    for account in accounts:
        mine = _holder_hash(salt, account)
        out[account] = sorted(fp for fp, h in holders.items() if hmac.compare_digest(h, mine))
    return out


class ChannelVerifier:
    """Both halves of the handshake on the bot's side: posting challenges, taking answers."""

    def __init__(
        self,
        store: ReportStore,
        data_dir: Path,
        *,
        channel_id: int | None,
        recipients: Recipients,
        allowed_admins: Collection[int],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.path = Path(data_dir) / PENDING_FILE
        self.channel_id = channel_id
        self.recipients = recipients
        self.allowed_admins = frozenset(allowed_admins)
        self._clock = clock

    def _today(self) -> date:
        return self._clock().astimezone(UTC).date()

    # -- posting challenges (reportbot channel verify) ----------------------------------------

    async def start(
        self, bot: Bot, checker: ChannelChecker, signing_key: BotSigningKey
    ) -> list[Challenge]:
        """Check the channel (all but the binding), post one sealed challenge per analyst key,
        and remember the codes' hashes. Raises :class:`ChannelError` when a check fails."""
        if self.channel_id is None:
            raise ChannelError(_EXPLAIN[Check.NO_CHANNEL])
        if not self.allowed_admins:
            raise ChannelError(
                "no analyst account allowed (REPORTBOT_CHANNEL_ADMIN_IDS): nobody could answer"
            )
        result = await checker.check(bot, require_binding=False)
        if not result.ok:
            raise ChannelError(f"channel check failed: {result.failed}: {result.explanation}")
        today = self._today()
        bot_fp = signing_key.public.fingerprint
        pending: dict[str, dict[str, str]] = {}
        challenges: list[Challenge] = []
        for n, key in enumerate(self.recipients.keys, start=1):
            digits = "".join(str(secrets.randbelow(10)) for _ in range(CHALLENGE_DIGITS))
            fields: dict[str, object] = {
                "kind": CHALLENGE_KIND,
                "channel": self.channel_id,
                "code": digits,
                "key": compact_fingerprint(key.fingerprint),
                "bot": compact_fingerprint(bot_fp),
                "day": today.isoformat(),
            }
            envelope = sign_challenge(signing_key, seal_record(Recipients([key]), fields))
            name = f"verify-{n}.bin"
            message = await bot.send_document(
                self.channel_id,
                envelope,
                filename=name,
                caption=f"channel check {n}/{len(self.recipients)} · key {key.fingerprint}",
                parse_mode=None,
                protect_content=False,
                disable_content_type_detection=True,
            )
            pending[compact_fingerprint(key.fingerprint)] = {
                "answer": _unkeyed_answer_digest(digits)
            }
            challenges.append(Challenge(key.fingerprint, name, message.message_id))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _write_private_json(
            self.path,
            {
                "v": 1,
                "channel": self.channel_id,
                "keys": pending,
                "answered": [],
                "wrong": 0,
                "expires": (today + timedelta(days=CHALLENGE_DAYS)).isoformat(),
            },
        )
        log.info("channel_challenges_posted", extra={"fields": {"keys": len(challenges)}})
        return challenges

    # -- taking answers (the running bot) ------------------------------------------------------

    def _load(self) -> dict[str, Any] | None:
        try:
            doc = json.loads(self.path.read_text(encoding="ascii"))
        except (OSError, ValueError):
            return None
        return doc if isinstance(doc, dict) and doc.get("v") == 1 else None

    def _void(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    async def answer(self, text: str, holder: int | None = None) -> AnswerOutcome:
        """Take a code sent by an allowed account; record the binding when all are in.

        ``holder``, the account that sent it, is remembered (hashed) with the key it proves."""
        digits = normalise_code(text)
        doc = self._load()
        if doc is None or digits is None:
            return AnswerOutcome(AnswerStatus.NO_CHALLENGE)
        keys = doc.get("keys")
        expires = doc.get("expires")
        if (
            not isinstance(keys, dict)
            or not isinstance(expires, str)
            or self._today().isoformat() > expires
            or int(doc.get("wrong", 0)) >= MAX_WRONG_ANSWERS
        ):
            self._void()
            return AnswerOutcome(AnswerStatus.EXPIRED)
        current = set(key_fingerprints(self.recipients))
        if set(keys) != current or doc.get("channel") != self.channel_id:
            self._void()
            return AnswerOutcome(AnswerStatus.KEYS_CHANGED)
        given = _unkeyed_answer_digest(digits)
        matched = next(
            (
                fp
                for fp, entry in keys.items()
                if isinstance(entry, dict)
                and hmac.compare_digest(str(entry.get("answer", "")), given)
            ),
            None,
        )
        answered = [fp for fp in doc.get("answered", []) if fp in keys]
        if matched is None:
            doc["wrong"] = int(doc.get("wrong", 0)) + 1
            _write_private_json(self.path, doc)
            log.warning("channel_answer_wrong", extra={"fields": {"wrong": doc["wrong"]}})
            return AnswerOutcome(AnswerStatus.WRONG)
        if matched in answered:
            return AnswerOutcome(AnswerStatus.ALREADY, len(keys) - len(answered))
        answered.append(matched)
        if holder is not None:
            with contextlib.suppress(OSError):
                record_key_holder(self.path.parent, matched, holder)
        if set(answered) != set(keys):
            doc["answered"] = sorted(answered)
            _write_private_json(self.path, doc)
            log.info(
                "channel_answer_accepted",
                extra={"fields": {"remaining": len(keys) - len(answered)}},
            )
            return AnswerOutcome(AnswerStatus.ACCEPTED, len(keys) - len(answered))
        channel = doc["channel"]
        await self.store.set_channel_binding(
            ChannelBinding(
                channel_id=int(channel),
                key_fingerprints=tuple(sorted(keys)),
                verified_day=self._today(),
            )
        )
        self._void()
        log.warning("channel_verified", extra={"fields": {"keys": len(keys)}})
        return AnswerOutcome(AnswerStatus.VERIFIED)

    async def handle_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A PTB handler run before the reporters' one: takes codes from allowed accounts only.

        Anything else (every reporter, any other text) goes on to the normal handlers untouched.
        """
        post = update.channel_post
        if (
            post is not None
            and post.chat.id == self.channel_id
            and post.text
            and normalise_code(post.text) is not None
        ):
            # A natural mistake: the code belongs in a private chat with the bot.
            log.warning("channel_code_posted_in_channel", extra={"fields": {}})
            await context.bot.send_message(post.chat.id, CODE_IN_CHANNEL, parse_mode=None)
            raise ApplicationHandlerStop
        user = update.effective_user
        chat = update.effective_chat
        message = update.message
        if (
            user is None
            or chat is None
            or message is None
            or chat.type != ChatType.PRIVATE
            or user.id not in self.allowed_admins
            or not message.text
            or normalise_code(message.text) is None
            or not self.path.exists()  # no handshake waiting: nothing to take
        ):
            return
        outcome = await self.answer(message.text, holder=user.id)
        await context.bot.send_message(chat.id, outcome.message(), parse_mode=None)
        raise ApplicationHandlerStop
