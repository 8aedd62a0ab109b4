"""Analysts' private keys: generated, written passphrase-protected, read back.

An analyst key file holds an X25519 key (opens envelopes) and an Ed25519 key (signs replies,
receipts issue), protected with argon2id + SecretBox unless the analyst asked for none. It is
written with mode 0600 and refused when others can read it. Format in ``docs/format.md``.
"""

from __future__ import annotations

import base64
import binascii
import json
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import nacl.exceptions
import nacl.pwhash
import nacl.utils
from nacl.public import PrivateKey, SealedBox
from nacl.secret import SecretBox
from nacl.signing import SigningKey

from bot.sealing.keys import (
    ANALYST_SECRET_TYPE,
    BOT_SIGNING_TYPE,
    AnalystPublicKey,
    KeyFileError,
    WrongKeyTypeError,
    check_private_file,
    parse_analyst_public_key,
    read_key_text,
    write_private_file,
    write_public_file,
)

KDF_LIMITS: Final[dict[str, tuple[int, int]]] = {
    "moderate": (nacl.pwhash.argon2id.OPSLIMIT_MODERATE, nacl.pwhash.argon2id.MEMLIMIT_MODERATE),
    "interactive": (
        nacl.pwhash.argon2id.OPSLIMIT_INTERACTIVE,
        nacl.pwhash.argon2id.MEMLIMIT_INTERACTIVE,
    ),
    # Only for tests: fast, and far too weak for a real key.
    "min": (nacl.pwhash.argon2id.OPSLIMIT_MIN, nacl.pwhash.argon2id.MEMLIMIT_MIN),
}
DEFAULT_KDF_LIMITS: Final = "moderate"
"""argon2id at 3 passes / 256 MiB: about a second on a laptop, once per toolkit run."""

SALT_BYTES: Final = nacl.pwhash.argon2id.SALTBYTES
SECRET_BYTES: Final = 64  # X25519 secret key 32 | Ed25519 seed 32
MIN_PASSPHRASE_CHARS: Final = 8

PassphraseSource = Callable[[], str]


class PassphraseError(KeyFileError):
    """The passphrase does not open the key file (or none was given)."""


@dataclass(frozen=True)
class AnalystSecretKey:
    """An analyst's private key pair. Exists only on analysts' machines."""

    box_key: PrivateKey
    signing_key: SigningKey

    @classmethod
    def generate(cls) -> AnalystSecretKey:
        return cls(PrivateKey.generate(), SigningKey.generate())

    @classmethod
    def from_secret(cls, secret: bytes) -> AnalystSecretKey:
        if len(secret) != SECRET_BYTES:
            raise KeyFileError("analyst secret has the wrong length")
        return cls(PrivateKey(secret[:32]), SigningKey(secret[32:]))

    @property
    def secret(self) -> bytes:
        return bytes(self.box_key) + bytes(self.signing_key)

    @property
    def public(self) -> AnalystPublicKey:
        return AnalystPublicKey(self.box_key.public_key, self.signing_key.verify_key)

    @property
    def key_id(self) -> bytes:
        return self.public.key_id

    def unseal(self, sealed: bytes) -> bytes:
        """Open a ``crypto_box_seal`` ciphertext addressed to this key."""
        return SealedBox(self.box_key).decrypt(sealed)

    def __repr__(self) -> str:
        return f"AnalystSecretKey(key_id={self.key_id.hex()})"


def passphrase_bytes(passphrase: str) -> bytes:
    """NFC-normalised UTF-8: the same passphrase typed on any keyboard gives the same bytes."""
    return unicodedata.normalize("NFC", passphrase).encode("utf-8")


def analyst_key_file_bytes(
    key: AnalystSecretKey, passphrase: str | None, *, limits: str = DEFAULT_KDF_LIMITS
) -> bytes:
    """The key file's content; protected with argon2id + SecretBox unless ``passphrase`` is None."""
    doc: dict[str, object] = {
        "type": ANALYST_SECRET_TYPE,
        "v": 1,
        "public": key.public.token(),
    }
    if passphrase is None:
        doc["protection"] = "none"
        doc["secret"] = base64.b64encode(key.secret).decode("ascii")
    else:
        if len(passphrase) < MIN_PASSPHRASE_CHARS:
            raise PassphraseError(
                f"passphrase too short: use at least {MIN_PASSPHRASE_CHARS} characters"
            )
        if limits not in KDF_LIMITS:
            raise KeyFileError(f"unknown argon2id limits {limits!r}")
        opslimit, memlimit = KDF_LIMITS[limits]
        salt = nacl.utils.random(SALT_BYTES)
        wrap = nacl.pwhash.argon2id.kdf(
            SecretBox.KEY_SIZE, passphrase_bytes(passphrase), salt, opslimit, memlimit
        )
        doc["protection"] = "argon2id"
        doc["kdf"] = {
            "opslimit": opslimit,
            "memlimit": memlimit,
            "salt": base64.b64encode(salt).decode("ascii"),
        }
        doc["secret"] = base64.b64encode(bytes(SecretBox(wrap).encrypt(key.secret))).decode("ascii")
    return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode("ascii")


def _b64(value: object, source: str, what: str) -> bytes:
    if not isinstance(value, str):
        raise KeyFileError(f"{source}: {what} missing")
    try:
        return base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise KeyFileError(f"{source}: {what} is not valid base64") from None


def _kdf_int(kdf: dict[str, object], name: str, low: int, high: int, source: str) -> int:
    value = kdf.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise KeyFileError(f"{source}: key file's {name} is out of range")
    return value


def parse_analyst_key_file(
    text: str, passphrase: PassphraseSource, *, source: str = "analyst key"
) -> AnalystSecretKey:
    """Read an analyst key file's text; asks ``passphrase()`` only when the file is protected."""
    try:
        doc = json.loads(text)
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        raise WrongKeyTypeError(f"{source}: not an analyst key file")
    kind = doc.get("type")
    if kind == BOT_SIGNING_TYPE:
        raise WrongKeyTypeError(f"{source} is the bot's signing key, not an analyst key")
    if kind != ANALYST_SECRET_TYPE:
        raise WrongKeyTypeError(f"{source}: not an analyst key file")
    if doc.get("v") != 1:
        raise KeyFileError(f"{source}: unknown key file version {doc.get('v')!r}")
    protection = doc.get("protection")
    if protection == "none":
        secret = _b64(doc.get("secret"), source, "secret")
    elif protection == "argon2id":
        kdf = doc.get("kdf")
        if not isinstance(kdf, dict):
            raise KeyFileError(f"{source}: kdf parameters missing")
        ops = _kdf_int(
            kdf,
            "opslimit",
            nacl.pwhash.argon2id.OPSLIMIT_MIN,
            nacl.pwhash.argon2id.OPSLIMIT_SENSITIVE,
            source,
        )
        mem = _kdf_int(
            kdf,
            "memlimit",
            nacl.pwhash.argon2id.MEMLIMIT_MIN,
            nacl.pwhash.argon2id.MEMLIMIT_SENSITIVE,
            source,
        )
        salt = _b64(kdf.get("salt"), source, "salt")
        if len(salt) != SALT_BYTES:
            raise KeyFileError(f"{source}: salt has the wrong length")
        boxed = _b64(doc.get("secret"), source, "secret")
        phrase = passphrase()
        if not phrase:
            raise PassphraseError(f"{source}: no passphrase given")
        wrap = nacl.pwhash.argon2id.kdf(
            SecretBox.KEY_SIZE, passphrase_bytes(phrase), salt, ops, mem
        )
        try:
            secret = SecretBox(wrap).decrypt(boxed)
        except nacl.exceptions.CryptoError:
            raise PassphraseError(
                f"{source}: wrong passphrase (or the key file is damaged)"
            ) from None
    else:
        raise KeyFileError(f"{source}: unknown protection {protection!r}")
    if len(secret) != SECRET_BYTES:
        raise KeyFileError(f"{source}: secret has the wrong length")
    key = AnalystSecretKey.from_secret(secret)
    if doc.get("public") != key.public.token():
        raise KeyFileError(f"{source}: private and public parts do not match (damaged file?)")
    return key


def load_analyst_key(path: Path, passphrase: PassphraseSource) -> AnalystSecretKey:
    """An analyst key file; refused when others can read it, or when it is another kind of key
    (a public key first: the usual mix-up, named before any talk of permissions)."""
    _refuse_public_key(path)
    check_private_file(path)
    return parse_analyst_key_file(read_key_text(path), passphrase, source=str(path))


def _refuse_public_key(path: Path) -> None:
    try:
        head = path.read_bytes()[:64].decode("ascii", "replace").strip()
    except OSError:
        return  # check_private_file names what is wrong with the file
    if head.startswith("rb-analyst-pub-v1:"):
        raise WrongKeyTypeError(
            f"{path}: that is a public key; give your private key file instead "
            f"(--key {path.with_suffix('.key')})"
        )
    if head.startswith("rb-bot-verify-v1:"):
        raise WrongKeyTypeError(
            f"{path}: that is the bot's public key; give it as --bot-key, and your own "
            "NAME.key as --key"
        )


def public_of_key_file(path: Path) -> AnalystPublicKey:
    """The public half written in an analyst key file (no passphrase needed)."""
    text = read_key_text(path)
    try:
        doc = json.loads(text)
    except ValueError:
        doc = None
    if not isinstance(doc, dict) or doc.get("type") != ANALYST_SECRET_TYPE:
        raise WrongKeyTypeError(f"{path}: not an analyst key file")
    public = doc.get("public")
    if not isinstance(public, str):
        raise KeyFileError(f"{path}: public key missing")
    return parse_analyst_public_key(public, source=str(path))


def new_analyst_key(
    out_dir: Path,
    name: str,
    passphrase: str | None,
    *,
    limits: str = DEFAULT_KDF_LIMITS,
) -> tuple[AnalystSecretKey, Path, Path]:
    """Make an analyst key pair: ``<name>.key`` (0600) and ``<name>.pub`` in ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    key = AnalystSecretKey.generate()
    key_path = out_dir / f"{name}.key"
    pub_path = out_dir / f"{name}.pub"
    if pub_path.exists():
        raise KeyFileError(f"{pub_path}: already exists; refusing to overwrite a key")
    content = analyst_key_file_bytes(key, passphrase, limits=limits)
    write_private_file(key_path, content)
    write_public_file(pub_path, key.public.token())
    return key, key_path, pub_path
