-- The digest outbox: signed, sealed digests waiting for (or confirmed by) Telegram, the reports
-- each carries (so that retention knows when a report may go), and the verified analyst channel.

CREATE TABLE digest (
    seq         INTEGER NOT NULL PRIMARY KEY CHECK (seq > 0),
    created_day TEXT NOT NULL CHECK (date(created_day) IS created_day),
    state       TEXT NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'posted', 'pruned')),
    attempts    INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    posted_day  TEXT CHECK (posted_day IS NULL OR date(posted_day) IS posted_day),
    CHECK ((state = 'pending') = (posted_day IS NULL))
);

-- part 0 is the signed digest; parts 1.. are sealed documents it references (large attachments)
CREATE TABLE digest_part (
    seq    INTEGER NOT NULL REFERENCES digest (seq) ON DELETE CASCADE,
    part   INTEGER NOT NULL CHECK (typeof(part) = 'integer' AND part >= 0),
    data   BLOB NOT NULL CHECK (typeof(data) = 'blob' AND length(data) > 0),
    posted INTEGER NOT NULL DEFAULT 0 CHECK (posted IN (0, 1)),
    PRIMARY KEY (seq, part)
);

ALTER TABLE report ADD COLUMN digest_seq INTEGER REFERENCES digest (seq);

CREATE INDEX report_by_digest ON report (digest_seq);

CREATE TABLE channel_binding (
    id               INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    channel_id       INTEGER NOT NULL,
    key_fingerprints TEXT NOT NULL CHECK (length(key_fingerprints) > 0),
    verified_day     TEXT NOT NULL CHECK (date(verified_day) IS verified_day)
);
