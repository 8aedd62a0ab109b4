"""Sealed-only storage: the ReportStore interface, its SQLite implementation and upkeep.

Import what you need from here::

    from storage import ReportStore, ReportState, open_store, SqliteReportStore
"""

from storage.base import (
    ChannelBinding,
    DigestInfo,
    DigestPart,
    DigestState,
    OutboxDigest,
    ReportId,
    ReportState,
    ReportStore,
    RetentionCounts,
    RetentionPolicy,
    StoreCounts,
    StoredReport,
    new_report_id,
    parse_report_id,
)
from storage.errors import (
    DigestSequenceError,
    InvalidEnvelopeError,
    InvalidReportIdError,
    InvalidSlotError,
    ReceiptExistsError,
    ReportClosedError,
    ReportNotReadyError,
    SchemaError,
    StorageError,
    StoreClosedError,
    UnknownDigestError,
    UnknownReceiptError,
    UnknownReportError,
    UnsafeFileError,
)
from storage.memory import MemoryReportStore
from storage.retention import run_retention
from storage.sqlite import SqliteReportStore, open_store

__all__ = [
    "ChannelBinding",
    "DigestInfo",
    "DigestPart",
    "DigestSequenceError",
    "DigestState",
    "InvalidEnvelopeError",
    "InvalidReportIdError",
    "InvalidSlotError",
    "MemoryReportStore",
    "OutboxDigest",
    "ReceiptExistsError",
    "ReportClosedError",
    "ReportId",
    "ReportNotReadyError",
    "ReportState",
    "ReportStore",
    "RetentionCounts",
    "RetentionPolicy",
    "SchemaError",
    "SqliteReportStore",
    "StorageError",
    "StoreClosedError",
    "StoreCounts",
    "StoredReport",
    "UnknownDigestError",
    "UnknownReceiptError",
    "UnknownReportError",
    "UnsafeFileError",
    "new_report_id",
    "open_store",
    "parse_report_id",
    "run_retention",
]
