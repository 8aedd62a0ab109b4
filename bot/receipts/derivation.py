"""What the server derives from a receipt code: the lookup tag it stores and the reply key.

From the code, a random per-database salt and the pepper (a secret file outside the database,
``bot.receipts.pepper``), with argon2id (:func:`derive`)::

    slow   = argon2id(b"rb-receipt-v1:" + 18 ASCII digits, salt, opslimit, memlimit)  32 bytes
    master = BLAKE2b(slow, key=pepper, size=32, person="reportbot-pepper")
    tag    = BLAKE2b(b"", key=master, size=32, person="reportbot-rcptag")   stored: finds the report
    seed   = BLAKE2b(b"", key=master, size=32, person="reportbot-rplkey")   never stored
    reply key pair = crypto_box_seed_keypair(seed)                             X25519

Receipts made before the pepper existed ("legacy", ``master = slow``) are still found, from the
same argon2id run, until retention prunes them; new ones are always peppered.

The database keeps ``tag -> report id`` only. The reply public key travels sealed to the analysts
inside the report's manifest (``reply_key``); only a reporter who types the code again brings the
seed back into memory, for one follow-up conversation (``bot.receipts.replies`` opens with it).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Final

import nacl.bindings
import nacl.exceptions
import nacl.hash
import nacl.pwhash
from nacl.encoding import RawEncoder

from bot.receipts.codes import ReceiptCode

CODE_PASSWORD_PREFIX: Final = b"rb-receipt-v1:"
TAG_PERSON: Final = b"reportbot-rcptag"
SEED_PERSON: Final = b"reportbot-rplkey"
PEPPER_PERSON: Final = b"reportbot-pepper"
TAG_BYTES: Final = 32
SALT_BYTES: Final = nacl.pwhash.argon2id.SALTBYTES


@dataclass(frozen=True, slots=True)
class KdfLimits:
    """argon2id cost. Fixed for a database's life: other limits derive other tags."""

    opslimit: int
    memlimit: int


PRODUCTION_KDF: Final = KdfLimits(
    nacl.pwhash.argon2id.OPSLIMIT_INTERACTIVE, nacl.pwhash.argon2id.MEMLIMIT_INTERACTIVE
)
"""libsodium's "interactive" limits: 2 passes over 64 MiB, about 0.2 s per code on one core."""

TEST_KDF: Final = KdfLimits(nacl.pwhash.argon2id.OPSLIMIT_MIN, nacl.pwhash.argon2id.MEMLIMIT_MIN)
"""For tests only: fast and far too weak for real codes."""


@dataclass(frozen=True, slots=True)
class Derived:
    """What a code yields. ``seed`` opens replies: keep it in memory for one conversation only."""

    tag: bytes
    seed: bytes

    def __repr__(self) -> str:
        return "Derived(<hidden>)"

    @property
    def reply_public(self) -> bytes:
        public, _ = nacl.bindings.crypto_box_seed_keypair(self.seed)
        return public


def slow_hash(code: ReceiptCode, salt: bytes, limits: KdfLimits) -> bytes:
    """argon2id of the code: the expensive step, the same for peppered and legacy tags."""
    if len(salt) != SALT_BYTES:
        raise ValueError("receipt salt must be 16 bytes")
    return nacl.pwhash.argon2id.kdf(
        32,
        CODE_PASSWORD_PREFIX + code.digits.encode("ascii"),
        salt,
        limits.opslimit,
        limits.memlimit,
    )


def split(slow: bytes, pepper: bytes | None) -> Derived:
    """The tag and the reply seed from the argon2id output; ``pepper=None``: legacy receipts."""
    master = slow
    if pepper is not None:
        master = nacl.hash.blake2b(
            slow, digest_size=32, key=pepper, person=PEPPER_PERSON, encoder=RawEncoder
        )
    tag = nacl.hash.blake2b(
        b"", digest_size=TAG_BYTES, key=master, person=TAG_PERSON, encoder=RawEncoder
    )
    seed = nacl.hash.blake2b(
        b"", digest_size=32, key=master, person=SEED_PERSON, encoder=RawEncoder
    )
    return Derived(tag=tag, seed=seed)


def derive(
    code: ReceiptCode, salt: bytes, limits: KdfLimits, pepper: bytes | None = None
) -> Derived:
    """argon2id of the code, peppered, split into the lookup tag and the reply key seed."""
    return split(slow_hash(code, salt, limits), pepper)


REPLY_KEY_PREFIX: Final = "rb-reply-pub-v1:"


def reply_key_token(public: bytes) -> str:
    """A report's reply public key as one line of text (in the manifest and the toolkit)."""
    if len(public) != 32:
        raise ValueError("a reply key is 32 bytes")
    return REPLY_KEY_PREFIX + base64.b64encode(public).decode("ascii")


def parse_reply_key(text: str) -> bytes:
    """The 32 bytes of ``rb-reply-pub-v1:...``; ValueError with one clear line otherwise."""
    token = text.strip() if isinstance(text, str) else ""
    if not token.startswith(REPLY_KEY_PREFIX):
        raise ValueError(f"not a reply key (expected text starting with {REPLY_KEY_PREFIX!r})")
    try:
        raw = base64.b64decode(token.removeprefix(REPLY_KEY_PREFIX).encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise ValueError("reply key is not valid base64") from None
    if len(raw) != 32:
        raise ValueError("reply key has the wrong length")
    try:
        nacl.bindings.crypto_box_seal(b"\x00", raw)
    except (nacl.exceptions.CryptoError, nacl.exceptions.RuntimeError):
        raise ValueError("reply key is not a valid X25519 public key") from None
    return raw
