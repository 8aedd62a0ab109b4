"""Opening envelopes with an analyst's private key, and reading the records inside.

The inverse of ``bot.sealing.envelope``; lives here so that the bot never imports a decrypt path.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import nacl.exceptions
from nacl.secret import Aead

from bot.sealing.envelope import (
    DATA_KEY_BYTES,
    MAX_SLOT,
    REPLY_KEY_RE,
    REPORT_ID_PATTERN,
    CarriedPart,
    FormatError,
    MalformedError,
    Metadata,
    RecordKind,
    ReportStatus,
    decode_plaintext,
    parse_envelope,
)
from reportbot_analyst.carriers import read_parts
from reportbot_analyst.keys import AnalystSecretKey


class OpenError(Exception):
    """An envelope that cannot be opened. ``str(exc)`` is one clear line."""


class NotSealedToKeyError(OpenError):
    """None of the given keys is among the envelope's recipients."""


class DamagedError(OpenError):
    """The envelope is addressed to the key but does not open: altered or damaged."""


@dataclass(frozen=True)
class OpenedRecord:
    """A decrypted plaintext: its JSON fields and its body (an attachment's bytes)."""

    fields: Mapping[str, object]
    body: bytes
    key_id: bytes  # the key that opened it

    @property
    def kind(self) -> str:
        return str(self.fields["kind"])


def open_envelope(envelope: bytes, keys: Sequence[AnalystSecretKey]) -> OpenedRecord:
    """Open ``envelope`` with whichever of ``keys`` it is sealed to.

    Raises :class:`FormatError` for a structure this code does not read,
    :class:`NotSealedToKeyError` when no key fits, :class:`DamagedError` when it does not open.
    """
    parsed = parse_envelope(envelope)
    by_id = {key.key_id: key for key in keys}
    for kid, sealed in parsed.recipients:
        key = by_id.get(kid)
        if key is None:
            continue
        try:
            data_key = key.unseal(sealed)
        except nacl.exceptions.CryptoError:
            raise DamagedError("the data key sealed to your key does not open: altered") from None
        if len(data_key) != DATA_KEY_BYTES:
            raise DamagedError("the sealed data key has the wrong length: altered")
        try:
            padded = Aead(data_key).decrypt(parsed.ciphertext, parsed.header, parsed.nonce)
        except nacl.exceptions.CryptoError:
            raise DamagedError("the envelope does not decrypt: altered or damaged") from None
        try:
            fields, body = decode_plaintext(padded)
        except FormatError as exc:
            raise DamagedError(f"the opened plaintext is not valid: {exc}") from None
        return OpenedRecord(fields=fields, body=body, key_id=kid)
    listed = ", ".join(k.hex() for k in parsed.key_ids)
    raise NotSealedToKeyError(f"not sealed to your key (sealed to: {listed})")


# --------------------------------------------------------------------------------------------
# Records: the typed reading of a plaintext
# --------------------------------------------------------------------------------------------

_ID_RE: Final = re.compile(r"^[a-z][a-z0-9_]*$")
_VERSION_RE: Final = re.compile(r"^[0-9a-f]{16,64}$")


@dataclass(frozen=True)
class RecordHead:
    report: str
    slot: int
    flow: str
    flow_version: str
    lang: str


@dataclass(frozen=True)
class AnswerRecord:
    head: RecordHead
    question: str
    answer: Mapping[str, object]


@dataclass(frozen=True)
class AttachmentRecord:
    head: RecordHead
    question: str
    ref: str
    media: str
    mime: str
    metadata: str
    data: bytes


@dataclass(frozen=True)
class ManifestRecord:
    head: RecordHead
    status: str
    slots: tuple[int, ...]
    reply_key: str | None = None  # receipts: what analysts seal replies to


@dataclass(frozen=True)
class OtherRecord:
    """A record of a kind this toolkit does not read (e.g. a newer one): kept, unread."""

    head: RecordHead | None
    kind: str
    fields: Mapping[str, object]


@dataclass(frozen=True)
class FlowRecord:
    """A flow version's snapshot (``bot.delivery.flow_snapshots``): the document the version
    hashes, decompressed; :mod:`reportbot_analyst.flows` checks it against the version."""

    flow: str
    flow_version: str
    document: bytes


@dataclass(frozen=True)
class CarrierRecord:
    """A digest's fixed-size entry: parts of envelopes (``reportbot_analyst.carriers``)."""

    parts: tuple[CarriedPart, ...]


MAX_FLOW_SNAPSHOT_BYTES: Final = 8 * 1024 * 1024
"""A snapshot that inflates beyond this is refused (a real flow is about 40 KB)."""

ReportRecord = AnswerRecord | AttachmentRecord | ManifestRecord | OtherRecord
"""A record that is part of a report (keyed by report and slot)."""
Record = ReportRecord | FlowRecord | CarrierRecord


def _str(fields: Mapping[str, object], name: str, pattern: re.Pattern[str] | None = None) -> str:
    value = fields.get(name)
    if not isinstance(value, str) or (pattern is not None and not pattern.fullmatch(value)):
        raise MalformedError(f"record field {name!r} is missing or malformed")
    return value


def _slot(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SLOT:
        raise MalformedError("record slot is missing or out of range")
    return value


def _head(fields: Mapping[str, object]) -> RecordHead:
    return RecordHead(
        report=_str(fields, "report", REPORT_ID_PATTERN),
        slot=_slot(fields.get("slot")),
        flow=_str(fields, "flow", _ID_RE),
        flow_version=_str(fields, "flow_version", _VERSION_RE),
        lang=_str(fields, "lang", re.compile(r"^[a-z]{2,3}$")),
    )


def read_record(opened: OpenedRecord) -> Record | None:
    """The typed record, or None for a dummy. Raises :class:`MalformedError` on bad fields.

    Unknown fields are ignored; unknown kinds come back as :class:`OtherRecord`.
    """
    fields = opened.fields
    kind = opened.kind
    if kind == RecordKind.DUMMY:
        return None
    if kind == RecordKind.ANSWER:
        answer = fields.get("answer")
        if not isinstance(answer, dict):
            raise MalformedError("answer record without an answer object")
        return AnswerRecord(_head(fields), _str(fields, "question", _ID_RE), answer)
    if kind == RecordKind.ATTACHMENT:
        size = fields.get("size")
        if size != len(opened.body):
            raise MalformedError("attachment size does not match its body")
        metadata = _str(fields, "metadata")
        if metadata not in {m.value for m in Metadata}:
            raise MalformedError("attachment metadata value unknown")
        return AttachmentRecord(
            head=_head(fields),
            question=_str(fields, "question", _ID_RE),
            ref=_str(fields, "ref", re.compile(r"^[A-Za-z0-9_-]{1,64}$")),
            media=_str(fields, "media", _ID_RE),
            mime=_str(fields, "mime", re.compile(r"^[a-z0-9.+-]+/[a-z0-9.+-]+$")),
            metadata=metadata,
            data=opened.body,
        )
    if kind == RecordKind.MANIFEST:
        status = _str(fields, "status")
        if status not in {s.value for s in ReportStatus}:
            raise MalformedError("manifest status unknown")
        slots = fields.get("slots")
        if not isinstance(slots, list):
            raise MalformedError("manifest without slots")
        reply_key = fields.get("reply_key")
        if reply_key is not None and (
            not isinstance(reply_key, str) or not REPLY_KEY_RE.fullmatch(reply_key)
        ):
            raise MalformedError("manifest reply_key is malformed")
        return ManifestRecord(_head(fields), status, tuple(_slot(s) for s in slots), reply_key)
    if kind == RecordKind.FLOW:
        return _flow_record(opened)
    if kind == RecordKind.CARRIER:
        return CarrierRecord(read_parts(fields, opened.body))
    try:
        head: RecordHead | None = _head(fields)
    except MalformedError:
        head = None
    return OtherRecord(head=head, kind=kind, fields=fields)


def _flow_record(opened: OpenedRecord) -> FlowRecord:
    fields = opened.fields
    if fields.get("encoding") != "zlib":
        raise MalformedError("flow snapshot in an unknown encoding")
    inflate = zlib.decompressobj()
    try:
        document = inflate.decompress(opened.body, MAX_FLOW_SNAPSHOT_BYTES)
    except zlib.error:
        raise MalformedError("flow snapshot does not decompress") from None
    if inflate.unconsumed_tail or not inflate.eof:
        raise MalformedError("flow snapshot too large or truncated")
    return FlowRecord(
        flow=_str(fields, "flow", _ID_RE),
        flow_version=_str(fields, "flow_version", _VERSION_RE),
        document=document,
    )
