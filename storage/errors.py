"""Domain errors of the report store.

Messages never carry a report id, an envelope or any other stored value: an error may end up in a
log line whose timestamp would otherwise tie a report to a time finer than a day.
"""

from __future__ import annotations


class StorageError(Exception):
    """Base of every error the store raises on purpose."""


class StoreClosedError(StorageError):
    """The store was closed; nothing more can be read or written through it."""

    def __init__(self) -> None:
        super().__init__("the report store is closed")


class InvalidReportIdError(StorageError, ValueError):
    """A report id that is not 32 lowercase hex digits (16 random bytes)."""

    def __init__(self) -> None:
        super().__init__("a report id is 32 lowercase hex digits")


class UnknownReportError(StorageError, LookupError):
    """No report with this id (never created, discarded, or removed by retention)."""

    def __init__(self) -> None:
        super().__init__("no such report")


class ReportClosedError(StorageError):
    """The report already has its manifest; its answers and attachments can no longer change."""

    def __init__(self) -> None:
        super().__init__("the report is closed; its answers cannot change")


class ReportNotReadyError(StorageError):
    """A digest was asked to carry a report that is still open or already carried by a digest."""

    def __init__(self) -> None:
        super().__init__("a digest may carry only closed reports that no digest carries yet")


class InvalidEnvelopeError(StorageError, ValueError):
    """Bytes that cannot be a sealed envelope: empty, too large, or not bytes at all."""


class InvalidSlotError(StorageError, ValueError):
    """A slot number outside the allowed range."""


class DigestSequenceError(StorageError):
    """A new digest must take the next sequence number: no reuse, no gap."""

    def __init__(self) -> None:
        super().__init__("a new digest must take the next sequence number")


class UnknownDigestError(StorageError, LookupError):
    """No digest with this sequence number in the outbox."""

    def __init__(self) -> None:
        super().__init__("no digest with this sequence number")


class ReceiptExistsError(StorageError):
    """The report already has a receipt, or the lookup tag is already in use."""

    def __init__(self) -> None:
        super().__init__("a receipt for this report or with this tag already exists")


class UnknownReceiptError(StorageError, LookupError):
    """A reply was addressed to a report that has no receipt (so nobody could ever read it)."""

    def __init__(self) -> None:
        super().__init__("the report has no receipt")


class SchemaError(StorageError):
    """The database file's schema cannot be used by this code (too new, broken, or not ours)."""


class UnsafeFileError(StorageError):
    """A database file or directory that is a symlink, not a regular file, or cannot be secured."""
