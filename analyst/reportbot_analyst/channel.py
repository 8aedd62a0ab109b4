"""The analyst's half of the channel handshake: open a challenge, show the code to send back.

``reportbot channel verify`` posts one document per analyst key into the channel, each an
envelope sealed to that key alone and holding a random code (``bot.delivery.channel_checks``). The
analyst saves the document meant for their key, opens it here, checks that the channel id and the
bot key's fingerprint are the ones expected, and sends the code to the bot from their own Telegram
account.
"""

from __future__ import annotations

import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from bot.sealing.envelope import FormatError, verify_challenge
from bot.sealing.keys import BotVerifyKey
from reportbot_analyst.keys import AnalystSecretKey
from reportbot_analyst.opening import DamagedError, NotSealedToKeyError, open_envelope

CHALLENGE_KIND: Final = "channel_challenge"  # bot.delivery.channel_checks.CHALLENGE_KIND
MAX_CHALLENGE_BYTES: Final = 64 * 1024


class ChallengeError(Exception):
    """The file is not a challenge this key can open. ``str(exc)`` is one line."""


@dataclass(frozen=True)
class ChannelChallenge:
    channel_id: int
    code: str  # 20 digits
    key_fingerprint: str  # digits only
    bot_fingerprint: str  # digits only
    day: str

    @property
    def spaced_code(self) -> str:
        return " ".join(self.code[i : i + 4] for i in range(0, len(self.code), 4))


def _spaced(digits: str) -> str:
    return " ".join(digits[i : i + 5] for i in range(0, len(digits), 5))


def read_challenge(
    data: bytes,
    keys: Sequence[AnalystSecretKey],
    bot_key: BotVerifyKey,
    expected_channel: int,
) -> ChannelChallenge:
    """Check a challenge document's signature against the pinned bot key, open it with one of
    ``keys``, and refuse it unless it names ``expected_channel`` and that bot key (issue 17.7)."""
    try:
        envelope = verify_challenge(data, bot_key)
    except FormatError as exc:
        raise ChallengeError(f"not a challenge from your bot: {exc}") from None
    try:
        opened = open_envelope(envelope, keys)
    except NotSealedToKeyError:
        mine = ", ".join(k.public.fingerprint for k in keys)
        raise ChallengeError(
            f"this challenge is for another analyst key (yours: {mine}); "
            "use the document whose caption names your key"
        ) from None
    except (DamagedError, FormatError) as exc:
        raise ChallengeError(f"not a channel challenge: {exc}") from None
    fields = opened.fields
    if opened.kind != CHALLENGE_KIND:
        raise ChallengeError(f"not a channel challenge (a sealed {opened.kind!r} record)")
    channel, code = fields.get("channel"), fields.get("code")
    key, bot, day = fields.get("key"), fields.get("bot"), fields.get("day")
    if (
        not isinstance(channel, int)
        or isinstance(channel, bool)
        or not isinstance(code, str)
        or not code.isdigit()
        or not isinstance(key, str)
        or not isinstance(bot, str)
        or not isinstance(day, str)
    ):
        raise ChallengeError("the challenge is malformed")
    if bot != bot_key.fingerprint.replace(" ", ""):
        raise ChallengeError("the challenge names another bot key than the pinned one")
    if channel != expected_channel:
        raise ChallengeError(
            f"the challenge was posted for channel {channel}, not {expected_channel}: do not "
            "send its code; tell the operator"
        )
    return ChannelChallenge(channel, code, key, bot, day)


def read_challenge_file(
    path: Path, keys: Sequence[AnalystSecretKey], bot_key: BotVerifyKey, expected_channel: int
) -> ChannelChallenge:
    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_CHALLENGE_BYTES:
            raise ChallengeError(f"{path}: not a channel challenge (wrong size or not a file)")
        data = path.read_bytes()
    except OSError as exc:
        raise ChallengeError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        return read_challenge(data, keys, bot_key, expected_channel)
    except ChallengeError as exc:
        raise ChallengeError(f"{path}: {exc}") from None


def describe(challenge: ChannelChallenge) -> list[str]:
    """What the analyst reads before sending the code."""
    return [
        f"channel:          {challenge.channel_id}",
        f"bot key:          {_spaced(challenge.bot_fingerprint)}",
        f"your key:         {_spaced(challenge.key_fingerprint)}",
        f"posted on:        {challenge.day}",
        "",
        "Signed by the pinned bot key, for the channel you named.",
        "Then send this code to the bot, in a private chat, from your own Telegram account",
        "(one on the bot's allowed list):",
        "",
        f"    {challenge.spaced_code}",
    ]
