"""The periodic retention job: deletes what has been kept long enough and logs only counts.

The bot's job queue calls :func:`run_retention` (for example once a day); nothing here knows about
Telegram. The log line carries counts and nothing that could identify a report.
"""

from __future__ import annotations

import logging

from storage.base import ReportStore, RetentionCounts, RetentionPolicy

log = logging.getLogger(__name__)


async def run_retention(store: ReportStore, policy: RetentionPolicy) -> RetentionCounts:
    """Apply ``policy`` once and log one line of counts."""
    counts = await store.apply_retention(policy)
    log.info(
        "retention: deleted %d reports, pruned %d digests, deleted %d receipts and %d replies",
        counts.reports,
        counts.digests,
        counts.receipts,
        counts.replies,
    )
    return counts
