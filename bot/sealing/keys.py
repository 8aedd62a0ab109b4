"""Keys the bot may hold, and how key files are written and read.

The bot process holds exactly two kinds of key material:

- the analysts' **public** keys (:class:`AnalystPublicKey`, gathered into :class:`Recipients`),
  which can seal but never open;
- its own Ed25519 **signing** key (:class:`BotSigningKey`), which signs digests.

An analyst's private key never belongs on the server. The types here cannot hold one
(``Recipients`` keeps only ``nacl.public.PublicKey`` and ``SealedBox[PublicKey]``, whose
``decrypt`` mypy rejects), and the loaders refuse one with a clear message wherever a public key
is expected ("fail closed on a bad key"). Generating and reading analyst private keys lives in
``reportbot_analyst.keys``, which no runtime module of the bot imports (a test holds that).

Formats (byte-exact in ``docs/format.md``):

- public keys are one line of text, a type prefix and standard base64:
  ``rb-analyst-pub-v1:<base64 of 32-byte X25519 key || 32-byte Ed25519 verify key>`` and
  ``rb-bot-verify-v1:<base64 of 32-byte Ed25519 verify key>``; a bare base64 key without its
  prefix is refused, because nobody could tell a public key from a private one;
- private key files are small JSON documents with a ``type`` field, mode 0600.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import nacl.bindings
import nacl.exceptions
import nacl.hash
from nacl.encoding import RawEncoder
from nacl.public import PublicKey, SealedBox
from nacl.signing import SigningKey, VerifyKey

KEY_ID_BYTES: Final = 8
"""A key id is the first 8 bytes of a personalised BLAKE2b hash of the public key."""

KEY_ID_PERSON: Final = b"reportbot-keyid1"
FINGERPRINT_PERSON: Final = b"reportbot-fpr-v1"
FINGERPRINT_DIGITS: Final = 25
"""A fingerprint is 25 decimal digits in groups of five: about 83 bits, read aloud in a minute."""

ANALYST_PUBLIC_PREFIX: Final = "rb-analyst-pub-v1:"
BOT_VERIFY_PREFIX: Final = "rb-bot-verify-v1:"
ANALYST_SECRET_TYPE: Final = "reportbot-analyst-secret-key"  # noqa: S105 - a type tag
BOT_SIGNING_TYPE: Final = "reportbot-bot-signing-key"

MAX_RECIPIENTS: Final = 16
"""At most this many analyst keys are sealed to (the envelope stores the count in one byte)."""

KEY_FILE_MAX_BYTES: Final = 16 * 1024
"""Key files are tiny; anything larger is not one (and is not read into memory)."""

BOT_KEY_FILE: Final = "bot.key"
BOT_PUB_FILE: Final = "bot.pub"

_KEY_ID_HEX = re.compile(r"^[0-9a-f]{16}$")


class KeyFileError(Exception):
    """A key or key file that cannot be used. ``str(exc)`` is one line saying what to do."""


class KeyPermissionError(KeyFileError):
    """A private key file that others than its owner can read or write."""


class WrongKeyTypeError(KeyFileError):
    """A key of the wrong kind: above all, a private key where a public one is expected."""


# --------------------------------------------------------------------------------------------
# Ids and fingerprints
# --------------------------------------------------------------------------------------------


def key_id(public_bytes: bytes) -> bytes:
    """8-byte id of a public key: ``BLAKE2b-64(key, person="reportbot-keyid1")``."""
    return nacl.hash.blake2b(
        public_bytes, digest_size=KEY_ID_BYTES, person=KEY_ID_PERSON, encoder=RawEncoder
    )


def fingerprint(public_bytes: bytes) -> str:
    """25 digits in groups of five, from ``BLAKE2b-256(key, person="reportbot-fpr-v1")``.

    Digits read the same aloud in Korean, Russian or English, and on any keyboard.
    """
    digest = nacl.hash.blake2b(
        public_bytes, digest_size=32, person=FINGERPRINT_PERSON, encoder=RawEncoder
    )
    digits = str(int.from_bytes(digest, "big") % 10**FINGERPRINT_DIGITS).zfill(FINGERPRINT_DIGITS)
    return " ".join(digits[i : i + 5] for i in range(0, FINGERPRINT_DIGITS, 5))


def parse_key_id(text: str) -> bytes:
    """A key id as printed (16 lowercase hex digits)."""
    value = text.strip().lower()
    if not _KEY_ID_HEX.fullmatch(value):
        raise KeyFileError(f"not a key id (16 hex digits): {text[:40]!r}")
    return bytes.fromhex(value)


# --------------------------------------------------------------------------------------------
# Public key types
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AnalystPublicKey:
    """An analyst's public half: an X25519 key to seal to, an Ed25519 key to check replies with."""

    box_key: PublicKey
    verify_key: VerifyKey

    def __post_init__(self) -> None:
        # Runtime belt to the type checker's braces: nothing private gets in here.
        if type(self.box_key) is not PublicKey or type(self.verify_key) is not VerifyKey:
            raise WrongKeyTypeError("an analyst public key holds only public keys")

    @property
    def raw(self) -> bytes:
        return bytes(self.box_key) + bytes(self.verify_key)

    @property
    def key_id(self) -> bytes:
        """The id written into envelopes: of the X25519 key, which is what is sealed to."""
        return key_id(bytes(self.box_key))

    @property
    def fingerprint(self) -> str:
        """Over both halves, so comparing it aloud checks both."""
        return fingerprint(self.raw)

    def token(self) -> str:
        return ANALYST_PUBLIC_PREFIX + base64.b64encode(self.raw).decode("ascii")


@dataclass(frozen=True)
class BotVerifyKey:
    """The bot's public verify key, as analysts pin it."""

    verify_key: VerifyKey

    def __post_init__(self) -> None:
        if type(self.verify_key) is not VerifyKey:
            raise WrongKeyTypeError("a bot verify key holds only a verify key")

    @property
    def raw(self) -> bytes:
        return bytes(self.verify_key)

    @property
    def key_id(self) -> bytes:
        return key_id(self.raw)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.raw)

    def token(self) -> str:
        return BOT_VERIFY_PREFIX + base64.b64encode(self.raw).decode("ascii")

    def verify(self, message: bytes, signature: bytes) -> bool:
        """True when ``signature`` is this key's Ed25519 signature of ``message``."""
        try:
            self.verify_key.verify(message, signature)
        except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError):
            return False
        return True


class BotSigningKey:
    """The bot's Ed25519 signing key. Signs digests; never leaves the bot."""

    __slots__ = ("_key",)

    def __init__(self, key: SigningKey) -> None:
        if type(key) is not SigningKey:
            raise WrongKeyTypeError("the bot's signing key must be an Ed25519 SigningKey")
        self._key = key

    @classmethod
    def generate(cls) -> BotSigningKey:
        return cls(SigningKey.generate())

    @property
    def public(self) -> BotVerifyKey:
        return BotVerifyKey(self._key.verify_key)

    @property
    def key_id(self) -> bytes:
        return self.public.key_id

    def sign(self, message: bytes) -> bytes:
        """The 64-byte detached Ed25519 signature of ``message``."""
        return self._key.sign(message).signature

    def file_bytes(self) -> bytes:
        """The private key file's content (JSON). Written with mode 0600 only."""
        doc = {
            "type": BOT_SIGNING_TYPE,
            "v": 1,
            "seed": base64.b64encode(bytes(self._key)).decode("ascii"),
            "public": self.public.token(),
        }
        return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode("ascii")

    def __repr__(self) -> str:
        return f"BotSigningKey(key_id={self.key_id.hex()})"


class Recipients:
    """The analyst public keys the bot seals to, in key-id order. It cannot open anything.

    Holds ``nacl.public.PublicKey`` values and ``SealedBox[PublicKey]`` boxes only: calling
    ``decrypt`` on one is a type error under mypy (``SealedBox.decrypt`` requires
    ``SealedBox[PrivateKey]``) and a ``TypeError`` at run time.
    """

    __slots__ = ("_boxes", "_keys")

    def __init__(self, keys: Iterable[AnalystPublicKey]) -> None:
        ordered = sorted(keys, key=lambda k: k.key_id)
        if not ordered:
            raise KeyFileError("no active analyst public key: nothing could be sealed to anyone")
        if len(ordered) > MAX_RECIPIENTS:
            raise KeyFileError(f"at most {MAX_RECIPIENTS} analyst keys can be active at once")
        for key in ordered:
            if not isinstance(key, AnalystPublicKey):
                raise WrongKeyTypeError("recipients must be analyst public keys")
        ids = [k.key_id for k in ordered]
        if len(set(ids)) != len(ids):
            raise KeyFileError("the same analyst public key is listed twice")
        self._keys: tuple[AnalystPublicKey, ...] = tuple(ordered)
        self._boxes: tuple[tuple[bytes, SealedBox[PublicKey]], ...] = tuple(
            (k.key_id, SealedBox(k.box_key)) for k in ordered
        )

    @property
    def keys(self) -> tuple[AnalystPublicKey, ...]:
        return self._keys

    @property
    def key_ids(self) -> tuple[bytes, ...]:
        return tuple(kid for kid, _ in self._boxes)

    @property
    def boxes(self) -> tuple[tuple[bytes, SealedBox[PublicKey]], ...]:
        """``(key id, box)`` pairs, in key-id order: what an envelope's header lists."""
        return self._boxes

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:
        return f"Recipients({', '.join(k.hex() for k in self.key_ids)})"


@dataclass(frozen=True)
class BotKeys:
    """Everything key-related the bot holds: its signing key and whom it seals to."""

    signing: BotSigningKey
    recipients: Recipients
    retired_ids: frozenset[bytes] = frozenset()
    """Key ids listed as retired (not sealed to); kept so the bot can log that it skipped them."""


# --------------------------------------------------------------------------------------------
# Parsing public keys (fail closed)
# --------------------------------------------------------------------------------------------


def _looks_private(text: str) -> str | None:
    """What private key ``text`` seems to be, or None."""
    if "PRIVATE KEY" in text:
        return "a PEM private key"
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            doc = json.loads(stripped)
        except ValueError:
            return None
        kind = doc.get("type") if isinstance(doc, dict) else None
        if kind == ANALYST_SECRET_TYPE:
            return "an analyst PRIVATE key"
        if kind == BOT_SIGNING_TYPE:
            return "the bot's PRIVATE signing key"
        if isinstance(doc, dict) and any(k in doc for k in ("secret", "seed", "private")):
            return "a private key"
    return None


def _b64_exact(data: str, size: int, what: str, source: str) -> bytes:
    try:
        raw = base64.b64decode(data.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise KeyFileError(f"{source}: {what} is not valid base64") from None
    if len(raw) != size:
        raise KeyFileError(f"{source}: {what} has {len(raw)} bytes, expected {size}")
    return raw


def _check_verify_point(raw: bytes, source: str) -> None:
    if not nacl.bindings.crypto_core_ed25519_is_valid_point(raw):
        raise KeyFileError(f"{source}: not a valid Ed25519 public key")


def _check_box_point(raw: bytes, source: str) -> None:
    # libsodium refuses to seal to a low-order point (all-zero key and friends): try it once.
    try:
        nacl.bindings.crypto_box_seal(b"\x00", raw)
    except (nacl.exceptions.CryptoError, nacl.exceptions.RuntimeError):
        raise KeyFileError(f"{source}: not a valid X25519 public key") from None


def parse_analyst_public_key(text: str, *, source: str = "analyst key") -> AnalystPublicKey:
    """An analyst public key from its one-line form; refuses private keys and anything unclear."""
    private = _looks_private(text)
    if private is not None:
        raise WrongKeyTypeError(
            f"{source} is {private}; the bot must be given analyst PUBLIC keys only "
            "(the .pub file). Remove the private key from this machine."
        )
    token = text.strip()
    if token.startswith(BOT_VERIFY_PREFIX):
        raise WrongKeyTypeError(f"{source} is the bot's verify key, not an analyst public key")
    if not token.startswith(ANALYST_PUBLIC_PREFIX):
        raise WrongKeyTypeError(
            f"{source} is not an analyst public key (expected one line starting with "
            f"{ANALYST_PUBLIC_PREFIX!r}; a bare key is refused because it could be a private one)"
        )
    raw = _b64_exact(token.removeprefix(ANALYST_PUBLIC_PREFIX), 64, "the key", source)
    _check_box_point(raw[:32], source)
    _check_verify_point(raw[32:], source)
    return AnalystPublicKey(PublicKey(raw[:32]), VerifyKey(raw[32:]))


def parse_bot_verify_key(text: str, *, source: str = "bot key") -> BotVerifyKey:
    """The bot's verify key from its one-line form; refuses private keys and anything unclear."""
    private = _looks_private(text)
    if private is not None:
        raise WrongKeyTypeError(
            f"{source} is {private}; pin the bot's PUBLIC verify key (bot.pub) instead"
        )
    token = text.strip()
    if token.startswith(ANALYST_PUBLIC_PREFIX):
        raise WrongKeyTypeError(f"{source} is an analyst public key, not the bot's verify key")
    if not token.startswith(BOT_VERIFY_PREFIX):
        raise WrongKeyTypeError(
            f"{source} is not a bot verify key (expected one line starting with "
            f"{BOT_VERIFY_PREFIX!r})"
        )
    raw = _b64_exact(token.removeprefix(BOT_VERIFY_PREFIX), 32, "the key", source)
    _check_verify_point(raw, source)
    return BotVerifyKey(VerifyKey(raw))


def read_key_text(path: Path) -> str:
    """A key file's text, bounded in size; errors are one clear line."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise KeyFileError(f"{path}: no such key file") from None
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot read ({exc.strerror})") from None
    if not stat.S_ISREG(st.st_mode):
        raise KeyFileError(f"{path}: not a regular file")
    if st.st_size > KEY_FILE_MAX_BYTES:
        raise KeyFileError(f"{path}: too large to be a key file")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise KeyFileError(f"{path}: not a key file (not text)") from None
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot read ({exc.strerror})") from None


def _text_or_file(spec: str | Path, prefix: str) -> tuple[str, str]:
    """(text, source) for a key given inline (with its prefix) or as a file path."""
    if isinstance(spec, str):
        stripped = spec.strip()
        inline = stripped.startswith(prefix) or (
            # Not a file, and long or structured enough to be key material: never echo it in
            # a message (it might be a private key), parse it and say what it is instead.
            not Path(stripped).is_file()
            and (len(stripped) >= 40 or "{" in stripped or "\n" in stripped)
        )
        if inline:
            return spec, "key given inline"
    path = Path(spec)
    return read_key_text(path), str(path)


def load_analyst_public_key(spec: str | Path) -> AnalystPublicKey:
    """An analyst public key given inline (``rb-analyst-pub-v1:...``) or as a ``.pub`` file."""
    text, source = _text_or_file(spec, ANALYST_PUBLIC_PREFIX)
    return parse_analyst_public_key(text, source=source)


def load_bot_verify_key(spec: str | Path) -> BotVerifyKey:
    """The bot's verify key given inline (``rb-bot-verify-v1:...``) or as a file (``bot.pub``)."""
    text, source = _text_or_file(spec, BOT_VERIFY_PREFIX)
    return parse_bot_verify_key(text, source=source)


def _retired_id(spec: str | Path) -> bytes:
    if isinstance(spec, str) and _KEY_ID_HEX.fullmatch(spec.strip().lower()):
        return parse_key_id(spec)
    return load_analyst_public_key(spec).key_id


def load_recipients(
    active: Sequence[str | Path], retired: Sequence[str | Path] = ()
) -> tuple[Recipients, frozenset[bytes]]:
    """The keys to seal to: every ``active`` key whose id is not ``retired``.

    ``retired`` entries are key ids (16 hex digits), inline public keys or ``.pub`` files. A
    retired key is never sealed to; analysts keep its private half to open older digests.
    Returns the recipients and the set of retired ids.
    """
    retired_ids = frozenset(_retired_id(spec) for spec in retired)
    keys = [load_analyst_public_key(spec) for spec in active]
    kept = [k for k in keys if k.key_id not in retired_ids]
    if keys and not kept:
        raise KeyFileError("every analyst public key given is retired: add an active key")
    return Recipients(kept), retired_ids


# --------------------------------------------------------------------------------------------
# Private key files: permissions, writing, the bot's signing key
# --------------------------------------------------------------------------------------------


def check_private_file(path: Path) -> None:
    """Refuse a private key file that is not a regular file or that others can access."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        raise KeyFileError(f"{path}: no such key file") from None
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot read ({exc.strerror})") from None
    if stat.S_ISLNK(st.st_mode):
        st = path.stat()
    if not stat.S_ISREG(st.st_mode):
        raise KeyFileError(f"{path}: not a regular file")
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        raise KeyPermissionError(
            f"{path}: private key file can be read by others (mode {mode:04o}); "
            f"run: chmod 600 {path}"
        )


def write_private_file(path: Path, data: bytes) -> None:
    """Create ``path`` with mode 0600 (never overwriting) and write ``data`` durably."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        raise KeyFileError(f"{path}: already exists; refusing to overwrite a key") from None
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot create ({exc.strerror})") from None
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def write_public_file(path: Path, text: str) -> None:
    """Create a public key file (never overwriting)."""
    try:
        with path.open("x", encoding="ascii") as fh:
            fh.write(text.rstrip("\n") + "\n")
    except FileExistsError:
        raise KeyFileError(f"{path}: already exists; refusing to overwrite a key") from None
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot create ({exc.strerror})") from None


def load_bot_signing_key(path: Path) -> BotSigningKey:
    """The bot's signing key file; refuses loose permissions and any other kind of key."""
    path = Path(path)
    check_private_file(path)
    text = read_key_text(path)
    source = str(path)
    try:
        doc = json.loads(text)
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        raise KeyFileError(f"{source}: not a reportbot bot signing key file")
    kind = doc.get("type")
    if kind == ANALYST_SECRET_TYPE:
        raise WrongKeyTypeError(
            f"{source} is an analyst PRIVATE key, not the bot's signing key; "
            "it must never be on the server"
        )
    if kind != BOT_SIGNING_TYPE:
        raise WrongKeyTypeError(f"{source}: not a reportbot bot signing key file")
    if doc.get("v") != 1:
        raise KeyFileError(f"{source}: unknown key file version {doc.get('v')!r}")
    seed = doc.get("seed")
    if not isinstance(seed, str):
        raise KeyFileError(f"{source}: no seed in key file")
    key = BotSigningKey(SigningKey(_b64_exact(seed, 32, "the seed", source)))
    public = doc.get("public")
    if public is not None and public != key.public.token():
        raise KeyFileError(f"{source}: seed and public key do not match (damaged file?)")
    return key


def new_bot_key(out_dir: Path) -> tuple[BotSigningKey, Path, Path]:
    """Make the bot's signing key: ``bot.key`` (0600) and ``bot.pub`` in ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    key = BotSigningKey.generate()
    key_path = out_dir / BOT_KEY_FILE
    pub_path = out_dir / BOT_PUB_FILE
    if pub_path.exists():
        raise KeyFileError(f"{pub_path}: already exists; refusing to overwrite a key")
    write_private_file(key_path, key.file_bytes())
    write_public_file(pub_path, key.public.token())
    return key, key_path, pub_path


def load_bot_keys(
    signing_key: Path,
    analyst_public_keys: Sequence[str | Path],
    retired: Sequence[str | Path] = (),
) -> BotKeys:
    """What the bot loads at start; raises :class:`KeyFileError` (one clear line) on any doubt."""
    signing = load_bot_signing_key(signing_key)
    if not analyst_public_keys:
        raise KeyFileError("no analyst public key configured: nothing could be sealed to anyone")
    recipients, retired_ids = load_recipients(analyst_public_keys, retired)
    return BotKeys(signing=signing, recipients=recipients, retired_ids=retired_ids)
