-- Issue 17.1: tables that tell a disk holder neither the order things were written in nor,
-- from the rows, which branches a reporter took or whether a report is a follow-up.
--
-- Every table holding reports, envelopes, receipts or replies becomes WITHOUT ROWID: its rows
-- live in the order of their key (random report ids, random slots), not of their insertion, so
-- reading the file in storage order gives the order of nothing. (Rowid tables hand out rowids in
-- insertion order, and answers were inserted in the order questions were asked.) Reports are
-- padded with sealed dummies at closing and every closed report has a receipt row (a random tag
-- when no code was given): that part is in storage/sqlite.py, close_report.
--
-- Children are rebuilt first, referencing the new parent by its new name; the old tables are
-- dropped children first (so no cascade can reach the copies), and the renames then carry the
-- references (SQLite >= 3.26 rewrites REFERENCES clauses on RENAME).

CREATE TABLE report_new (
    id          BLOB NOT NULL PRIMARY KEY
                CHECK (typeof(id) = 'blob' AND length(id) = 16),
    state       TEXT NOT NULL DEFAULT 'open'
                CHECK (state IN ('open', 'complete', 'interrupted')),
    created_day TEXT NOT NULL
                CHECK (date(created_day) IS created_day),
    manifest    BLOB
                CHECK (manifest IS NULL OR (typeof(manifest) = 'blob' AND length(manifest) > 0)),
    digest_seq  INTEGER REFERENCES digest (seq),
    CHECK ((state = 'open') = (manifest IS NULL))
) WITHOUT ROWID;

INSERT INTO report_new (id, state, created_day, manifest, digest_seq)
    SELECT id, state, created_day, manifest, digest_seq FROM report ORDER BY id;

CREATE TABLE answer_new (
    report_id BLOB NOT NULL REFERENCES report_new (id) ON DELETE CASCADE,
    slot      INTEGER NOT NULL CHECK (typeof(slot) = 'integer' AND slot BETWEEN 0 AND 65535),
    envelope  BLOB NOT NULL CHECK (typeof(envelope) = 'blob' AND length(envelope) > 0),
    PRIMARY KEY (report_id, slot)
) WITHOUT ROWID;

INSERT INTO answer_new (report_id, slot, envelope)
    SELECT report_id, slot, envelope FROM answer ORDER BY report_id, slot;

CREATE TABLE attachment_new (
    report_id BLOB NOT NULL REFERENCES report_new (id) ON DELETE CASCADE,
    slot      INTEGER NOT NULL CHECK (typeof(slot) = 'integer' AND slot BETWEEN 0 AND 65535),
    envelope  BLOB NOT NULL CHECK (typeof(envelope) = 'blob' AND length(envelope) > 0),
    PRIMARY KEY (report_id, slot)
) WITHOUT ROWID;

INSERT INTO attachment_new (report_id, slot, envelope)
    SELECT report_id, slot, envelope FROM attachment ORDER BY report_id, slot;

CREATE TABLE receipt_new (
    report_id   BLOB NOT NULL PRIMARY KEY
                CHECK (typeof(report_id) = 'blob' AND length(report_id) = 16),
    tag         BLOB NOT NULL UNIQUE
                CHECK (typeof(tag) = 'blob' AND length(tag) BETWEEN 16 AND 64),
    created_day TEXT NOT NULL CHECK (date(created_day) IS created_day)
) WITHOUT ROWID;

INSERT INTO receipt_new (report_id, tag, created_day)
    SELECT report_id, tag, created_day FROM receipt ORDER BY report_id;

CREATE TABLE reply_new (
    report_id   BLOB NOT NULL REFERENCES receipt_new (report_id) ON DELETE CASCADE,
    n           INTEGER NOT NULL CHECK (n > 0),
    sealed      BLOB NOT NULL CHECK (typeof(sealed) = 'blob' AND length(sealed) > 0),
    created_day TEXT NOT NULL CHECK (date(created_day) IS created_day),
    PRIMARY KEY (report_id, n)
) WITHOUT ROWID;

INSERT INTO reply_new (report_id, n, sealed, created_day)
    SELECT report_id, n, sealed, created_day FROM reply ORDER BY report_id, n;

DROP TABLE reply;
DROP TABLE receipt;
DROP TABLE answer;
DROP TABLE attachment;
DROP TABLE report;

ALTER TABLE report_new RENAME TO report;
ALTER TABLE answer_new RENAME TO answer;
ALTER TABLE attachment_new RENAME TO attachment;
ALTER TABLE receipt_new RENAME TO receipt;
ALTER TABLE reply_new RENAME TO reply;

CREATE INDEX report_by_state ON report (state);
CREATE INDEX report_by_digest ON report (digest_seq);
