"""What the server derives from a receipt code: the lookup tag it stores and the reply key.

Scheme 2 (every receipt made now), from the code, a random per-database salt, the pepper (a secret
file outside the database, ``bot.receipts.pepper``) and a **secret salt** ``r``::

    r      = a random number in [0, 2^k), drawn when the receipt is made and NEVER stored
    slow   = argon2id(b"rb-receipt-v2:" + 18 ASCII digits + b":" + r as ASCII decimal,
                      salt, opslimit_v2, memlimit_v2)                                 32 bytes
    master = BLAKE2b(slow, key=pepper, size=32, person="reportbot-pep-v2")
    tag    = BLAKE2b(b"", key=master, size=32, person="reportbot-tag-v2")   stored: finds the report
    seed   = BLAKE2b(b"", key=master, size=32, person="reportbot-rpl-v2")   never stored
    reply key pair = crypto_box_seed_keypair(seed)                             X25519

Making a receipt costs ONE argon2id run. Finding it again (a reporter typing the code back) costs
all 2^k runs, one per possible ``r`` (the 2^k candidate tags are looked up in one query), and so
does every guess of someone who stole the database *and* the pepper (Manber 1996, "a simple
scheme to make passwords based on one-way functions much harder to crack"; Abadi, Lomas and
Needham 1997, "Strengthening passwords"). The per-report cost moves from the hot path (every
report) to the rare one (a reporter coming back), and a guess costs no less than before.

The arithmetic (:data:`PRODUCTION_KDF`; measured with ``time.process_time`` on the 2-core
machine of issue 13.5, medians of 5, others working)::

                     one run            a receipt made           one wrong guess
    scheme 1 (before)  2 passes x 64 MiB  1 run:  88.7 ms, 128 MiB   1 run:  88.7 ms, 128 MiB
    scheme 2, k = 5    1 pass x 16 MiB    1 run:  11.4 ms,  16 MiB  32 runs: 365 ms,  512 MiB
    (MiB = MiB-passes: memory filled x passes, the time x memory each costs)

(on an idle machine one scheme-1 run takes 78 ms and one scheme-2 run 7.6 ms: 243 ms a guess). So
a guess costs >= 3x the CPU time and 4x the memory-passes (time x memory) of scheme 1, and no
less area-time either: hardware built to guess (a GPU, an ASIC) pays about memory held x time,
~ m^2 t per run, so 2^5 x 16^2 x 1 = 8192 against 64^2 x 2 = 8192 before; with k = 4 it would
have been half. ``tests/test_receipt_secret_salt.py`` checks all three on :data:`PRODUCTION_KDF`.
k can later grow (a lookup over [0, 2^k') with k' > k still finds every receipt made with k) but
never shrink. The 10^18 codes remain the main defence.

Scheme 1 (receipts made before, kept until retention prunes them)::

    slow   = argon2id(b"rb-receipt-v1:" + 18 ASCII digits, salt, opslimit_v1, memlimit_v1)
    master = BLAKE2b(slow, key=pepper, size=32, person="reportbot-pepper")
    tag, seed as above with persons "reportbot-rcptag" and "reportbot-rplkey"

Receipts made before the pepper existed ("legacy", ``master = slow``) are still found, from the
same scheme-1 argon2id run. v1 and v2 tags come from different prefixes and personalisations, so
they can never collide; the database keeps each tag's scheme beside it and a lookup runs
scheme 1 only while the database still holds a scheme-1 tag.

The database keeps ``tag -> report id`` (and the scheme) only. The reply public key travels
sealed to the analysts inside the report's manifest (``reply_key``); only a reporter who types the
code again brings the seed back into memory, for one follow-up conversation
(``bot.receipts.replies`` opens with it).
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

TAG_BYTES: Final = 32
SALT_BYTES: Final = nacl.pwhash.argon2id.SALTBYTES


@dataclass(frozen=True, slots=True)
class Scheme:
    """How one version of the derivation names its inputs: v1 and v2 tags never collide."""

    prefix: bytes
    pepper_person: bytes
    tag_person: bytes
    seed_person: bytes


SCHEME_1: Final = Scheme(
    b"rb-receipt-v1:", b"reportbot-pepper", b"reportbot-rcptag", b"reportbot-rplkey"
)
SCHEME_2: Final = Scheme(
    b"rb-receipt-v2:", b"reportbot-pep-v2", b"reportbot-tag-v2", b"reportbot-rpl-v2"
)


@dataclass(frozen=True, slots=True)
class KdfLimits:
    """argon2id cost of one run. Fixed for a database's life: other limits derive other tags."""

    opslimit: int
    memlimit: int


@dataclass(frozen=True, slots=True)
class ReceiptKdf:
    """What receipts cost: scheme 2's run and secret-salt bits ``k``, and scheme 1's run.

    ``v1`` stays what it was when the database's scheme-1 receipts were made.
    """

    v2: KdfLimits
    secret_salt_bits: int
    v1: KdfLimits

    def __post_init__(self) -> None:
        if not 0 <= self.secret_salt_bits <= 8:
            raise ValueError("the secret salt has 0 to 8 bits")

    @property
    def secret_salts(self) -> int:
        """2^k: how many values of ``r`` there are, and argon2id runs a lookup costs."""
        return 1 << self.secret_salt_bits


INTERACTIVE: Final = KdfLimits(
    nacl.pwhash.argon2id.OPSLIMIT_INTERACTIVE, nacl.pwhash.argon2id.MEMLIMIT_INTERACTIVE
)
"""libsodium's "interactive" limits (2 passes over 64 MiB): scheme 1, and the floor for a guess."""

PRODUCTION_KDF: Final = ReceiptKdf(
    v2=KdfLimits(1, 16 * 1024 * 1024), secret_salt_bits=5, v1=INTERACTIVE
)
"""Scheme 2: 1 pass over 16 MiB, k = 5 (32 runs a lookup); scheme 1 as before (the arithmetic is
in this module's docstring)."""

_MIN: Final = KdfLimits(nacl.pwhash.argon2id.OPSLIMIT_MIN, nacl.pwhash.argon2id.MEMLIMIT_MIN)
TEST_KDF: Final = ReceiptKdf(v2=_MIN, secret_salt_bits=5, v1=_MIN)
"""For tests only: fast and far too weak for real codes (the same k as in production)."""


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


def _argon2id(password: bytes, salt: bytes, limits: KdfLimits) -> bytes:
    if len(salt) != SALT_BYTES:
        raise ValueError("receipt salt must be 16 bytes")
    return nacl.pwhash.argon2id.kdf(32, password, salt, limits.opslimit, limits.memlimit)


def slow_hash_v1(code: ReceiptCode, salt: bytes, limits: KdfLimits) -> bytes:
    """Scheme 1's argon2id of the code, the same for peppered and legacy tags."""
    return _argon2id(SCHEME_1.prefix + code.digits.encode("ascii"), salt, limits)


def slow_hash_v2(code: ReceiptCode, r: int, salt: bytes, limits: KdfLimits) -> bytes:
    """Scheme 2's argon2id of the code with the secret salt ``r``."""
    if isinstance(r, bool) or not isinstance(r, int) or r < 0:
        raise ValueError("the secret salt is a whole number from 0")
    password = SCHEME_2.prefix + code.digits.encode("ascii") + b":" + str(r).encode("ascii")
    return _argon2id(password, salt, limits)


def split(slow: bytes, pepper: bytes | None, scheme: Scheme = SCHEME_1) -> Derived:
    """The tag and the reply seed from the argon2id output; ``pepper=None``: legacy receipts."""
    master = slow
    if pepper is not None:
        master = nacl.hash.blake2b(
            slow, digest_size=32, key=pepper, person=scheme.pepper_person, encoder=RawEncoder
        )
    tag = nacl.hash.blake2b(
        b"", digest_size=TAG_BYTES, key=master, person=scheme.tag_person, encoder=RawEncoder
    )
    seed = nacl.hash.blake2b(
        b"", digest_size=32, key=master, person=scheme.seed_person, encoder=RawEncoder
    )
    return Derived(tag=tag, seed=seed)


def derive_v1(
    code: ReceiptCode, salt: bytes, limits: KdfLimits, pepper: bytes | None = None
) -> Derived:
    """Scheme 1: argon2id of the code, peppered, split into the lookup tag and the seed."""
    return split(slow_hash_v1(code, salt, limits), pepper, SCHEME_1)


def derive_v2(code: ReceiptCode, r: int, salt: bytes, limits: KdfLimits, pepper: bytes) -> Derived:
    """Scheme 2 with the secret salt ``r``: what a receipt made now stores and opens with."""
    return split(slow_hash_v2(code, r, salt, limits), pepper, SCHEME_2)


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
