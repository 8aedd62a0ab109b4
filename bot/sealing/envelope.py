"""Sealing answers, attachments and manifests to the analysts, and signing digests.

Everything here runs in the bot and uses public keys only: it can seal, sign and check
signatures, never open. Opening lives in ``reportbot_analyst.opening``, which the bot never imports.
The byte layouts are specified in ``docs/format.md``; this module is their reference writer.

Envelope (format version 1)::

    "RBSE" | 0x01 | n | n x (key id 8 | sealed data key 80) | nonce 24 | ciphertext

The payload is encrypted once with a random 32-byte data key (XChaCha20-Poly1305, the header as
associated data); the data key is sealed (``crypto_box_seal``) to each recipient. The plaintext is
``u32 length | canonical JSON | body``, padded (ISO/IEC 7816-4, ``sodium_pad``) to the smallest
of :data:`PAD_BUCKETS` that is larger than it, so the length of an envelope reveals only its
bucket and the number of recipients.

Digest (format version 1)::

    "RBSD" | 0x01 | seq u64 | day "YYYY-MM-DD" | bot key id 8 | k | k x key id 8
           | count u32 | entries | padding length u32 | zeros | Ed25519 signature 64
"""

from __future__ import annotations

import json
import re
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Final

import nacl.bindings
import nacl.exceptions
import nacl.hash
import nacl.utils
from nacl.encoding import RawEncoder
from nacl.secret import Aead

from bot.questionnaire.flow import ID_PATTERN, LANGUAGES, AnswerValue, MediaKind
from bot.sealing.keys import KEY_ID_BYTES, MAX_RECIPIENTS, BotSigningKey, BotVerifyKey, Recipients
from bot.sealing.metadata import strip_image_metadata

FORMAT_VERSION: Final = 1
ENVELOPE_MAGIC: Final = b"RBSE"
DIGEST_MAGIC: Final = b"RBSD"

DATA_KEY_BYTES: Final = 32
SEALED_KEY_BYTES: Final = DATA_KEY_BYTES + 48  # crypto_box_seal adds 48 bytes
RECIPIENT_BYTES: Final = KEY_ID_BYTES + SEALED_KEY_BYTES
NONCE_BYTES: Final = 24
TAG_BYTES: Final = 16
ENVELOPE_PREFIX_BYTES: Final = len(ENVELOPE_MAGIC) + 2  # magic, version, recipient count

KIB: Final = 1024
MIB: Final = 1024 * 1024
PAD_BUCKETS: Final[tuple[int, ...]] = (
    1 * KIB,
    4 * KIB,
    16 * KIB,
    64 * KIB,
    96 * KIB,
    128 * KIB,
    192 * KIB,
    256 * KIB,
    384 * KIB,
    512 * KIB,
    768 * KIB,
    1 * MIB,
    3 * MIB // 2,
    2 * MIB,
    3 * MIB,
    4 * MIB,
    6 * MIB,
    8 * MIB,
    12 * MIB,
    16 * MIB,
    20 * MIB + 64 * KIB,
)
"""Sizes a padded plaintext can have. Answers up to a few hundred characters take the first
(1 KiB); long texts 4 or 16 KiB; attachments from 64 KiB on, in steps of at most x1.5, up to
the largest, which holds a 20 MiB file (the Bot API's download limit) with its header."""

MAX_ATTACHMENT_BYTES: Final = 20 * MIB
"""Largest attachment sealed (the Bot API lets a bot download files up to 20 MB)."""

MAX_JSON_BYTES: Final = 60 * KIB
"""Largest JSON part of a plaintext; an answer is at most 4000 characters."""

MAX_ENVELOPE_BYTES: Final = (
    ENVELOPE_PREFIX_BYTES
    + MAX_RECIPIENTS * RECIPIENT_BYTES
    + NONCE_BYTES
    + TAG_BYTES
    + PAD_BUCKETS[-1]
)

MAX_SLOT: Final = 65_535
REPORT_ID_PATTERN: Final = re.compile(r"^[0-9a-f]{32}$")
_ID_RE: Final = re.compile(ID_PATTERN)
_FLOW_VERSION_RE: Final = re.compile(r"^[0-9a-f]{16,64}$")
_MIME_RE: Final = re.compile(r"^[a-z0-9.+-]+/[a-z0-9.+-]+$")
_REF_RE: Final = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
REPLY_KEY_RE: Final = re.compile(r"^rb-reply-pub-v1:[A-Za-z0-9+/]{43}=$")
"""A report's reply key in a manifest (receipts): 32 bytes of X25519 public key, base64."""

BLOB_HASH_PERSON: Final = b"reportbot-blob-1"
BLOB_HASH_BYTES: Final = 32

DIGEST_ENTRY_INLINE: Final = 0x01
DIGEST_ENTRY_EXTERNAL: Final = 0x02
SIGNATURE_BYTES: Final = 64
DIGEST_HEADER_BYTES: Final = len(DIGEST_MAGIC) + 1 + 8 + 10 + KEY_ID_BYTES + 1
MAX_DIGEST_ENTRIES: Final = 1_000_000
DIGEST_ENTRY_BUCKETS: Final[tuple[int, ...]] = (16, 64, 256, 1024, 4096, 16384)
"""Entry counts a digest is filled up to with dummy envelopes (see :func:`pad_with_dummies`)."""
DIGEST_SIZE_BUCKETS: Final[tuple[int, ...]] = tuple(2**k for k in range(15, 26))
"""Total sizes (32 KiB ... 32 MiB) a digest is padded to by :func:`sign_digest`."""
MAX_DIGEST_BYTES: Final = 64 * MIB


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


class SealingError(Exception):
    """Something the bot was asked to seal or sign does not fit the format."""


class AttachmentTooLargeError(SealingError):
    """An attachment over :data:`MAX_ATTACHMENT_BYTES`."""


class FormatError(Exception):
    """Bytes that are not a valid envelope or digest. ``str(exc)`` is one clear line."""


class NotOurFormatError(FormatError):
    """The bytes do not start with a reportbot magic."""


class UnknownVersionError(FormatError):
    """A format version this code does not read."""


class TruncatedError(FormatError):
    """The bytes end before the structure does."""


class MalformedError(FormatError):
    """The structure is wrong (bad counts, bad padding, trailing bytes...)."""


class ForgedError(FormatError):
    """The signature does not verify with the pinned key: forged or altered."""


# --------------------------------------------------------------------------------------------
# Plaintext: canonical JSON, body, padding
# --------------------------------------------------------------------------------------------


class RecordKind(StrEnum):
    """What a sealed plaintext is. Readers keep records of kinds they do not know, unread."""

    ANSWER = "answer"
    ATTACHMENT = "attachment"
    MANIFEST = "manifest"
    DUMMY = "dummy"
    FOLLOWUP = "followup"  # reserved for follow-ups (receipts issue)
    FLOW = "flow"  # a snapshot of a flow version (bot.delivery.flow_snapshots)
    CARRIER = "carrier"  # a fixed-size cell carrying parts of sealed envelopes (digests)


class ReportStatus(StrEnum):
    COMPLETE = "complete"  # the reporter pressed send
    INTERRUPTED = "interrupted"  # idle timeout, quick exit or /cancel with "send what I answered"


class Metadata(StrEnum):
    """What happened to an attachment's embedded metadata (EXIF, GPS, ...); analysts see it."""

    STRIPPED = "stripped"  # an image, re-encoded from its pixels: no metadata at all
    KEPT = "kept"  # stripping was switched off: the file is as the reporter sent it
    NOT_STRIPPED = "not_stripped"  # not an image this code can clean (voice, video, PDF...)


def _check_json_value(value: object, where: str) -> None:
    if value is None or isinstance(value, bool | str):
        return
    if isinstance(value, int):
        if not -(2**53) < value < 2**53:
            raise SealingError(f"{where}: integer out of the safe JSON range")
        return
    if isinstance(value, list | tuple):
        for item in value:
            _check_json_value(item, where)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise SealingError(f"{where}: object keys must be strings")
            _check_json_value(item, where)
        return
    raise SealingError(f"{where}: {type(value).__name__} cannot be sealed (no floats, no bytes)")


def canonical_json(fields: Mapping[str, object]) -> bytes:
    """UTF-8 JSON, keys sorted, no spaces, no ASCII escaping, no floats."""
    _check_json_value(dict(fields), "plaintext")
    try:
        return json.dumps(
            fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        ).encode("utf-8")
    except UnicodeEncodeError:
        raise SealingError("plaintext: text is not valid Unicode (lone surrogate)") from None


def bucket_for(length: int) -> int:
    """The padded size of a plaintext of ``length`` bytes: the smallest bucket larger than it."""
    for bucket in PAD_BUCKETS:
        if length < bucket:
            return bucket
    raise SealingError(f"plaintext of {length} bytes is larger than the largest bucket")


def encode_plaintext(
    fields: Mapping[str, object], body: bytes = b"", *, pad_to: int | None = None
) -> bytes:
    """``u32 BE length of JSON | canonical JSON | body``, padded to its bucket.

    ``pad_to`` (one of :data:`PAD_BUCKETS`) pads to that bucket instead of the smallest that
    fits, so that records of different lengths (carriers, their dummies) come out the same size.
    """
    doc = canonical_json(fields)
    if len(doc) > MAX_JSON_BYTES:
        raise SealingError(f"plaintext JSON of {len(doc)} bytes is over {MAX_JSON_BYTES}")
    plain = struct.pack(">I", len(doc)) + doc + bytes(body)
    bucket = bucket_for(len(plain))
    if pad_to is not None:
        if pad_to not in PAD_BUCKETS or bucket > pad_to:
            raise SealingError(f"plaintext of {len(plain)} bytes does not pad to {pad_to}")
        bucket = pad_to
    return nacl.bindings.sodium_pad(plain, bucket)


def decode_plaintext(padded: bytes) -> tuple[dict[str, object], bytes]:
    """Inverse of :func:`encode_plaintext`; checks the bucket, padding and canonical JSON."""
    if len(padded) not in PAD_BUCKETS:
        raise MalformedError(f"padded plaintext of {len(padded)} bytes is not a bucket size")
    try:
        plain = nacl.bindings.sodium_unpad(padded, len(padded))
    except nacl.exceptions.CryptoError:
        raise MalformedError("bad padding in plaintext") from None
    if len(plain) < 4:
        raise MalformedError("plaintext too short")
    (json_len,) = struct.unpack(">I", plain[:4])
    if json_len > MAX_JSON_BYTES or 4 + json_len > len(plain):
        raise MalformedError("plaintext JSON length out of range")
    doc = plain[4 : 4 + json_len]
    try:
        fields = json.loads(doc.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise MalformedError("plaintext JSON does not parse") from None
    if not isinstance(fields, dict) or not isinstance(fields.get("kind"), str):
        raise MalformedError("plaintext JSON is not an object with a kind")
    try:
        canonical = canonical_json(fields)
    except SealingError:
        raise MalformedError("plaintext JSON holds values outside the format") from None
    if canonical != doc:
        raise MalformedError("plaintext JSON is not in canonical form")
    return fields, plain[4 + json_len :]


# --------------------------------------------------------------------------------------------
# Envelopes
# --------------------------------------------------------------------------------------------


def seal_record(
    recipients: Recipients,
    fields: Mapping[str, object],
    body: bytes = b"",
    *,
    pad_to: int | None = None,
) -> bytes:
    """Seal one plaintext record to every recipient. The intent-named functions below call it."""
    if not isinstance(recipients, Recipients):
        raise SealingError("seal to Recipients (analyst public keys) only")
    padded = encode_plaintext(fields, body, pad_to=pad_to)
    data_key = nacl.utils.random(DATA_KEY_BYTES)
    header = bytearray(ENVELOPE_MAGIC)
    header.append(FORMAT_VERSION)
    header.append(len(recipients))
    for kid, box in recipients.boxes:
        header += kid
        header += box.encrypt(data_key)
    aad = bytes(header)
    return aad + bytes(Aead(data_key).encrypt(padded, aad))


@dataclass(frozen=True)
class ParsedEnvelope:
    """An envelope's structure, unopened."""

    version: int
    recipients: tuple[tuple[bytes, bytes], ...]  # (key id, sealed data key)
    header: bytes  # everything before the nonce: the associated data
    nonce: bytes
    ciphertext: bytes  # padded plaintext encrypted, with its 16-byte tag

    @property
    def key_ids(self) -> tuple[bytes, ...]:
        return tuple(kid for kid, _ in self.recipients)


def parse_envelope(data: bytes) -> ParsedEnvelope:
    """Check an envelope's structure (not its contents) and split it into parts."""
    data = bytes(data)
    if len(data) < len(ENVELOPE_MAGIC) or data[:4] != ENVELOPE_MAGIC:
        raise NotOurFormatError("not a reportbot envelope (bad magic)")
    if len(data) < ENVELOPE_PREFIX_BYTES:
        raise TruncatedError("envelope truncated in its header")
    version = data[4]
    if version != FORMAT_VERSION:
        raise UnknownVersionError(
            f"envelope format version {version} is unknown (this reads version {FORMAT_VERSION})"
        )
    count = data[5]
    if not 1 <= count <= MAX_RECIPIENTS:
        raise MalformedError(f"envelope lists {count} recipients (1 to {MAX_RECIPIENTS} allowed)")
    header_end = ENVELOPE_PREFIX_BYTES + count * RECIPIENT_BYTES
    if len(data) < header_end + NONCE_BYTES + TAG_BYTES + PAD_BUCKETS[0]:
        raise TruncatedError("envelope truncated")
    recipients = []
    for i in range(count):
        start = ENVELOPE_PREFIX_BYTES + i * RECIPIENT_BYTES
        recipients.append(
            (
                data[start : start + KEY_ID_BYTES],
                data[start + KEY_ID_BYTES : start + RECIPIENT_BYTES],
            )
        )
    ids = [kid for kid, _ in recipients]
    if ids != sorted(set(ids)):
        raise MalformedError("envelope key ids are not distinct and in order")
    ciphertext = data[header_end + NONCE_BYTES :]
    if len(ciphertext) - TAG_BYTES not in PAD_BUCKETS:
        raise TruncatedError(
            f"envelope ciphertext of {len(ciphertext)} bytes does not match a bucket size "
            "(truncated or altered)"
        )
    return ParsedEnvelope(
        version=version,
        recipients=tuple(recipients),
        header=data[:header_end],
        nonce=data[header_end : header_end + NONCE_BYTES],
        ciphertext=ciphertext,
    )


@dataclass(frozen=True)
class ReportContext:
    """What every record of one report carries besides its own content."""

    report_id: str
    flow_id: str
    flow_version: str
    lang: str

    def __post_init__(self) -> None:
        if not isinstance(self.report_id, str) or not REPORT_ID_PATTERN.fullmatch(self.report_id):
            raise SealingError("report id must be 32 lowercase hex digits")
        if not isinstance(self.flow_id, str) or not _ID_RE.fullmatch(self.flow_id):
            raise SealingError("flow id does not match the id pattern")
        if not isinstance(self.flow_version, str) or not _FLOW_VERSION_RE.fullmatch(
            self.flow_version
        ):
            raise SealingError("flow version must be 16-64 lowercase hex digits")
        if self.lang not in LANGUAGES:
            raise SealingError(f"language must be one of {LANGUAGES}")

    def fields(self, kind: RecordKind, slot: int) -> dict[str, object]:
        if isinstance(slot, bool) or not isinstance(slot, int) or not 0 <= slot <= MAX_SLOT:
            raise SealingError(f"slot must be a whole number from 0 to {MAX_SLOT}")
        return {
            "kind": kind.value,
            "report": self.report_id,
            "slot": slot,
            "flow": self.flow_id,
            "flow_version": self.flow_version,
            "lang": self.lang,
        }


def _check_question(question: str) -> str:
    if not isinstance(question, str) or not _ID_RE.fullmatch(question):
        raise SealingError("question id does not match the id pattern")
    return question


def seal_answer(
    recipients: Recipients,
    report: ReportContext,
    *,
    slot: int,
    question: str,
    answer: AnswerValue,
) -> bytes:
    """Seal one accepted answer (ids, never labels) to every analyst."""
    if not isinstance(answer, dict):
        raise SealingError("an answer is a JSON object (see bot.questionnaire.flow.AnswerValue)")
    fields = report.fields(RecordKind.ANSWER, slot)
    fields["question"] = _check_question(question)
    fields["answer"] = answer
    return seal_record(recipients, fields)


def seal_manifest(
    recipients: Recipients,
    report: ReportContext,
    *,
    slot: int,
    status: ReportStatus,
    slots: Iterable[int],
    reply_key: str | None = None,
) -> bytes:
    """Seal the record that closes a report: its status and the slots that are its answers.

    Slots not listed (answers replaced by an edit, branches no longer taken) are not part of
    the report; readers drop them. ``reply_key`` (``rb-reply-pub-v1:...``, see
    ``bot.receipts.service``) is the key analysts seal replies to, when the reporter was given a
    receipt.
    """
    if reply_key is not None and not REPLY_KEY_RE.fullmatch(reply_key):
        raise SealingError("reply_key must be an rb-reply-pub-v1: key")
    valid = sorted(set(slots))
    for s in valid:
        if isinstance(s, bool) or not isinstance(s, int) or not 0 <= s <= MAX_SLOT:
            raise SealingError(f"manifest slots must be whole numbers from 0 to {MAX_SLOT}")
    if slot in valid:
        raise SealingError("the manifest's own slot cannot be one of the answers' slots")
    fields = report.fields(RecordKind.MANIFEST, slot)
    fields["status"] = ReportStatus(status).value
    fields["slots"] = valid
    if reply_key is not None:
        fields["reply_key"] = reply_key
    return seal_record(recipients, fields)


def seal_dummy(recipients: Recipients) -> bytes:
    """An envelope that readers skip; outsiders cannot tell it from an answer."""
    return seal_record(recipients, {"kind": RecordKind.DUMMY.value})


# --------------------------------------------------------------------------------------------
# Attachments
# --------------------------------------------------------------------------------------------


def seal_attachment(
    recipients: Recipients,
    report: ReportContext,
    *,
    slot: int,
    question: str,
    ref: str,
    media: MediaKind,
    data: bytes,
    mime: str,
    strip_metadata: bool = True,
) -> bytes:
    """Seal a file; :func:`seal_attachment_telling` without the outcome."""
    envelope, _ = seal_attachment_telling(
        recipients,
        report,
        slot=slot,
        question=question,
        ref=ref,
        media=media,
        data=data,
        mime=mime,
        strip_metadata=strip_metadata,
    )
    return envelope


def seal_attachment_telling(
    recipients: Recipients,
    report: ReportContext,
    *,
    slot: int,
    question: str,
    ref: str,
    media: MediaKind,
    data: bytes,
    mime: str,
    strip_metadata: bool = True,
) -> tuple[bytes, Metadata]:
    """Seal a file (photo, voice note, video, document) with its own random key, in memory.

    With ``strip_metadata`` (the default) JPEG, PNG and WebP images are re-encoded without any
    metadata first, in an isolated process (``bot.sealing.metadata``); everything else is sealed
    as received. The sealed record says which happened (``metadata``: stripped / kept /
    not_stripped).
    """
    data = bytes(data)
    if len(data) > MAX_ATTACHMENT_BYTES:
        raise AttachmentTooLargeError(
            f"attachment of {len(data)} bytes is over the {MAX_ATTACHMENT_BYTES}-byte limit"
        )
    if not isinstance(ref, str) or not _REF_RE.fullmatch(ref):
        raise SealingError("attachment ref must be 1-64 characters of A-Z a-z 0-9 _ -")
    mime = mime.lower() if isinstance(mime, str) else ""
    if not _MIME_RE.fullmatch(mime):
        mime = "application/octet-stream"
    try:
        media = MediaKind(media)
    except ValueError:
        raise SealingError(f"media must be one of {[m.value for m in MediaKind]}") from None
    metadata = Metadata.NOT_STRIPPED
    if not strip_metadata:
        metadata = Metadata.KEPT
    else:
        stripped = strip_image_metadata(data, mime)
        if stripped is not None:
            data, mime = stripped
            metadata = Metadata.STRIPPED
    fields = report.fields(RecordKind.ATTACHMENT, slot)
    fields.update(
        {
            "question": _check_question(question),
            "ref": ref,
            "media": media.value,
            "mime": mime,
            "size": len(data),
            "metadata": metadata.value,
        }
    )
    return seal_record(recipients, fields, data), metadata


# --------------------------------------------------------------------------------------------
# Channel challenges: sealed to one analyst key, signed by the bot
# --------------------------------------------------------------------------------------------

CHALLENGE_MAGIC: Final = b"RBSC"


def sign_challenge(signing_key: BotSigningKey, envelope: bytes) -> bytes:
    """``"RBSC" | 0x01 | envelope | Ed25519 signature of everything before it`` (issue 17.7).

    The magic keeps a challenge signature from ever passing for a digest's, and the reverse."""
    if not isinstance(signing_key, BotSigningKey):
        raise SealingError("a challenge is signed with the bot's signing key")
    parse_envelope(envelope)
    signed = CHALLENGE_MAGIC + bytes([FORMAT_VERSION]) + bytes(envelope)
    return signed + signing_key.sign(signed)


def verify_challenge(data: bytes, verify_key: BotVerifyKey) -> bytes:
    """The envelope of a challenge signed by the pinned bot key; :class:`FormatError` else."""
    data = bytes(data)
    if data[:4] == ENVELOPE_MAGIC:
        raise ForgedError("this challenge is not signed by the bot: post a new one")
    if data[:4] != CHALLENGE_MAGIC:
        raise NotOurFormatError("not a channel challenge (bad magic)")
    if len(data) < 5 + SIGNATURE_BYTES or data[4] != FORMAT_VERSION:
        raise MalformedError("channel challenge truncated or of an unknown version")
    signed, signature = data[:-SIGNATURE_BYTES], data[-SIGNATURE_BYTES:]
    if not verify_key.verify(signed, signature):
        raise ForgedError("the challenge's signature does not verify with the pinned bot key")
    return signed[5:]


# --------------------------------------------------------------------------------------------
# Carriers: fixed-size cells that digests are made of
# --------------------------------------------------------------------------------------------

CARRIER_PLAINTEXT_BYTES: Final = 64 * KIB
"""Every carrier's plaintext is padded to exactly this bucket, whatever it holds."""

_CARRIER_MIN_PART: Final = 256
"""A carrier with less room left than this is closed rather than given one more tiny part."""


@dataclass(frozen=True)
class CarriedPart:
    """``length`` bytes from ``offset`` of the envelope named ``blob`` (``total`` bytes long)."""

    blob: bytes
    offset: int
    total: int
    data: bytes


def carrier_fields(parts: Sequence[CarriedPart]) -> dict[str, object]:
    """A carrier's JSON: ``{"kind": "carrier", "parts": [[blob hex, offset, total, length]]}``."""
    return {
        "kind": RecordKind.CARRIER.value,
        "parts": [[p.blob.hex(), p.offset, p.total, len(p.data)] for p in parts],
    }


def carrier_room(parts: Sequence[CarriedPart], total: int, offset: int) -> int:
    """Bytes of one more part (of an envelope of ``total`` bytes, from ``offset``) that still fit
    into a carrier already holding ``parts``; 0 when the carrier is full."""
    probe = [*parts, CarriedPart(bytes(BLOB_HASH_BYTES), offset, total, b"")]
    fields = carrier_fields(probe)
    # The probe's length is 0; the real one has at most as many digits as the envelope's length.
    doc = len(canonical_json(fields)) + len(str(total)) - 1
    used = 4 + doc + sum(len(p.data) for p in parts)
    room = CARRIER_PLAINTEXT_BYTES - 1 - used  # sodium_pad always adds at least one byte
    return room if room >= _CARRIER_MIN_PART else 0


def seal_carrier(recipients: Recipients, parts: Sequence[CarriedPart]) -> bytes:
    """Seal parts of envelopes into one carrier, padded to :data:`CARRIER_PLAINTEXT_BYTES`.

    Every carrier sealed to the same keys has the same length; so has :func:`seal_carrier_dummy`.
    """
    if not parts:
        raise SealingError("a carrier holds at least one part (use seal_carrier_dummy)")
    for p in parts:
        if len(p.blob) != BLOB_HASH_BYTES or not 0 <= p.offset < p.offset + len(p.data) <= p.total:
            raise SealingError("a carried part lies outside its envelope")
    body = b"".join(p.data for p in parts)
    return seal_record(recipients, carrier_fields(parts), body, pad_to=CARRIER_PLAINTEXT_BYTES)


def seal_carrier_dummy(recipients: Recipients) -> bytes:
    """A carrier-sized dummy: readers skip it; outsiders cannot tell it from a carrier."""
    return seal_record(recipients, {"kind": RecordKind.DUMMY.value}, pad_to=CARRIER_PLAINTEXT_BYTES)


def carrier_envelope_bytes(recipients: int) -> int:
    """The length of every carrier (and carrier dummy) sealed to ``recipients`` keys."""
    return (
        ENVELOPE_PREFIX_BYTES
        + recipients * RECIPIENT_BYTES
        + NONCE_BYTES
        + TAG_BYTES
        + CARRIER_PLAINTEXT_BYTES
    )


# --------------------------------------------------------------------------------------------
# Digests: the signed container
# --------------------------------------------------------------------------------------------


def blob_hash(data: bytes) -> bytes:
    """``BLAKE2b-256(data, person="reportbot-blob-1")``: names an envelope or a digest."""
    return nacl.hash.blake2b(
        bytes(data), digest_size=BLOB_HASH_BYTES, person=BLOB_HASH_PERSON, encoder=RawEncoder
    )


@dataclass(frozen=True)
class ExternalEntry:
    """A digest entry naming an envelope sent as its own file (too large to go inline)."""

    blob_hash: bytes
    length: int

    @classmethod
    def of(cls, envelope: bytes) -> ExternalEntry:
        return cls(blob_hash(envelope), len(envelope))


DigestEntry = bytes | ExternalEntry


@dataclass(frozen=True)
class Digest:
    """A digest whose signature has been checked."""

    seq: int
    day: date
    bot_key_id: bytes
    key_ids: tuple[bytes, ...]
    entries: tuple[DigestEntry, ...]
    digest_hash: bytes  # blob_hash of the whole file: equal files, equal hash
    size: int


def pad_with_dummies(
    recipients: Recipients,
    entries: Sequence[DigestEntry],
    *,
    count_buckets: Sequence[int] = DIGEST_ENTRY_BUCKETS,
) -> list[DigestEntry]:
    """``entries`` plus dummy envelopes up to the next count in ``count_buckets``.

    Counts above the largest bucket are rounded up to a multiple of it.
    """
    n = len(entries)
    target = next((b for b in sorted(count_buckets) if b >= n), None)
    if target is None:
        top = max(count_buckets)
        target = -(-n // top) * top
    return [*entries, *(seal_dummy(recipients) for _ in range(target - n))]


def _u32(value: int) -> bytes:
    return struct.pack(">I", value)


def _checked_digest_header(
    signing_key: BotSigningKey, seq: int, day: date, key_ids: Sequence[bytes], n_entries: int
) -> list[bytes]:
    """Refuse a digest header the format cannot carry; the key ids, sorted."""
    if not isinstance(signing_key, BotSigningKey):
        raise SealingError("a digest is signed with the bot's signing key")
    if isinstance(seq, bool) or not isinstance(seq, int) or not 1 <= seq < 2**64:
        raise SealingError("sequence numbers are whole numbers from 1")
    if not isinstance(day, date):
        raise SealingError("day must be a date")
    ids = sorted(bytes(k) for k in key_ids)
    if len(set(ids)) != len(ids) or any(len(k) != KEY_ID_BYTES for k in ids):
        raise SealingError("key ids must be distinct 8-byte ids")
    if len(ids) > MAX_RECIPIENTS:
        raise SealingError(f"at most {MAX_RECIPIENTS} key ids")
    if n_entries > MAX_DIGEST_ENTRIES:
        raise SealingError(f"at most {MAX_DIGEST_ENTRIES} entries in one digest")
    return ids


def _encoded_entry(entry: DigestEntry, ids: Sequence[bytes]) -> bytes:
    """One digest entry as it is written: tag, length, then the envelope or the blob's hash."""
    if isinstance(entry, ExternalEntry):
        if len(entry.blob_hash) != BLOB_HASH_BYTES or not 0 < entry.length <= MAX_ENVELOPE_BYTES:
            raise SealingError("bad external entry")
        return bytes([DIGEST_ENTRY_EXTERNAL]) + _u32(entry.length) + entry.blob_hash
    envelope = bytes(entry)
    try:
        parsed = parse_envelope(envelope)
    except FormatError as exc:
        raise SealingError(f"a digest entry is not an envelope: {exc}") from None
    if not set(parsed.key_ids) <= set(ids):
        raise SealingError("an entry is sealed to a key not listed in the digest")
    return bytes([DIGEST_ENTRY_INLINE]) + _u32(len(envelope)) + envelope


def _digest_padding(fixed: int, size_buckets: Sequence[int]) -> int:
    """Zero bytes that bring a digest of ``fixed`` bytes to its size bucket."""
    padding = 0
    if size_buckets:
        target = next((b for b in sorted(size_buckets) if b >= fixed), None)
        if target is None:
            raise SealingError(
                f"digest of {fixed} bytes is larger than the largest size bucket; split it"
            )
        padding = target - fixed
    if fixed + padding > MAX_DIGEST_BYTES:
        raise SealingError("digest larger than the format allows; split it")
    return padding


def sign_digest(
    signing_key: BotSigningKey,
    *,
    seq: int,
    day: date,
    key_ids: Sequence[bytes],
    entries: Sequence[DigestEntry],
    size_buckets: Sequence[int] = DIGEST_SIZE_BUCKETS,
) -> bytes:
    """Build and sign a digest: sequence number, creation day, key ids, every entry.

    ``key_ids`` are the analyst keys the entries are sealed to (``Recipients.key_ids``). The
    result is padded with zeros to the smallest of ``size_buckets`` it fits (no padding when
    ``size_buckets`` is empty). Sequence numbers start at 1 and never repeat.
    """
    ids = _checked_digest_header(signing_key, seq, day, key_ids, len(entries))
    out = bytearray(DIGEST_MAGIC)
    out.append(FORMAT_VERSION)
    out += struct.pack(">Q", seq)
    out += day.isoformat().encode("ascii")
    out += signing_key.key_id
    out.append(len(ids))
    for kid in ids:
        out += kid
    out += _u32(len(entries))
    for entry in entries:
        out += _encoded_entry(entry, ids)
    padding = _digest_padding(len(out) + 4 + SIGNATURE_BYTES, size_buckets)
    out += _u32(padding)
    out += bytes(padding)
    out += signing_key.sign(bytes(out))
    return bytes(out)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int, what: str) -> bytes:
        end = self.pos + n
        if end > len(self.data):
            raise TruncatedError(f"digest truncated (ends in {what} at byte {len(self.data)})")
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def u32(self, what: str) -> int:
        (value,) = struct.unpack(">I", self.take(4, what))
        return int(value)


def _check_digest_magic(data: bytes) -> None:
    """Magic, version and size, before anything else is read."""
    if len(data) < len(DIGEST_MAGIC) or data[:4] != DIGEST_MAGIC:
        raise NotOurFormatError("not a reportbot digest (bad magic)")
    if len(data) < 5:
        raise TruncatedError("digest truncated in its header")
    if data[4] != FORMAT_VERSION:
        raise UnknownVersionError(
            f"digest format version {data[4]} is unknown (this reads version {FORMAT_VERSION})"
        )
    if len(data) > MAX_DIGEST_BYTES:
        raise MalformedError("digest larger than the format allows")


def _read_digest_day(r: _Reader) -> date:
    day_raw = r.take(10, "day")
    try:
        day_text = day_raw.decode("ascii")
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", day_text):
            raise ValueError(day_text)
        return date.fromisoformat(day_text)
    except ValueError:
        raise MalformedError("digest day is not a YYYY-MM-DD date") from None


def _read_digest_entry(r: _Reader) -> DigestEntry:
    tag = r.take(1, "entry")[0]
    length = r.u32("entry length")
    if not 0 < length <= MAX_ENVELOPE_BYTES:
        raise MalformedError(f"digest entry length {length} out of range")
    if tag == DIGEST_ENTRY_INLINE:
        return r.take(length, "an entry")
    if tag == DIGEST_ENTRY_EXTERNAL:
        return ExternalEntry(r.take(BLOB_HASH_BYTES, "an entry"), length)
    raise MalformedError(f"unknown digest entry type {tag}")


def _parse_digest(data: bytes) -> tuple[Digest, bytes, bytes]:
    """Structure only (no signature check): the digest, the signed bytes, the signature."""
    _check_digest_magic(data)
    r = _Reader(data)
    r.take(5, "header")
    (seq,) = struct.unpack(">Q", r.take(8, "sequence number"))
    day = _read_digest_day(r)
    bot_key_id = r.take(KEY_ID_BYTES, "bot key id")
    k = r.take(1, "key count")[0]
    if k > MAX_RECIPIENTS:
        raise MalformedError(f"digest lists {k} key ids (at most {MAX_RECIPIENTS})")
    key_ids = tuple(r.take(KEY_ID_BYTES, "key ids") for _ in range(k))
    if list(key_ids) != sorted(set(key_ids)):
        raise MalformedError("digest key ids are not distinct and in order")
    count = r.u32("entry count")
    if count > MAX_DIGEST_ENTRIES:
        raise MalformedError(f"digest claims {count} entries (at most {MAX_DIGEST_ENTRIES})")
    entries = [_read_digest_entry(r) for _ in range(count)]
    padding = r.u32("padding length")
    if r.take(padding, "padding").count(0) != padding:
        raise MalformedError("digest padding is not all zeros")
    signed_end = r.pos
    signature = r.take(SIGNATURE_BYTES, "signature")
    if r.pos != len(data):
        raise MalformedError("bytes after the digest signature")
    digest = Digest(
        seq=seq,
        day=day,
        bot_key_id=bot_key_id,
        key_ids=key_ids,
        entries=tuple(entries),
        digest_hash=blob_hash(data),
        size=len(data),
    )
    return digest, data[:signed_end], signature


def verify_digest(data: bytes, verify_key: BotVerifyKey) -> Digest:
    """Check a digest's structure and its signature against the pinned bot key.

    Raises :class:`FormatError` (one clear line) when anything is wrong; nothing of a digest
    that fails is returned.
    """
    data = bytes(data)
    digest, signed, signature = _parse_digest(data)
    if not verify_key.verify(signed, signature):
        if digest.bot_key_id != verify_key.key_id:
            raise ForgedError(
                f"signed by key id {digest.bot_key_id.hex()}, not the pinned bot key "
                f"{verify_key.key_id.hex()}: forged, or the bot key changed"
            )
        raise ForgedError("signature does not verify with the pinned bot key: forged or altered")
    if digest.bot_key_id != verify_key.key_id:  # a valid signature by the pinned key, wrong id
        raise MalformedError("digest names a different bot key id than the key that signed it")
    if digest.seq == 0:
        raise MalformedError("digest sequence number 0 is not allowed")
    return digest
