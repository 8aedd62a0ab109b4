-- Reports and answers keep their sealed bytes on the row's own page again, without giving back
-- the order rows were written in (migration 0005, issue 17.1).
--
-- 0005 made every table WITHOUT ROWID. Such a row lives in an index b-tree, which keeps at most
-- about 1,000 B of a row on a 4 KiB page; a sealed answer or manifest is about 1,250 B, so each
-- one put its tail on an overflow page of its own: a report took 3.4 times the disk it used to,
-- and every answer's commit wrote two pages instead of one.
--
-- `report` and `answer` become rowid tables again, but their rowid (`cell`) is a random 64-bit
-- number that storage/sqlite.py draws for each row (new_cell), never SQLite's next number: the
-- table still lies in the order of nothing, and a row of up to about 4,000 B stays on its page.
-- Their old keys stay as UNIQUE constraints, so lookups, the upsert of an answer and the
-- foreign keys work as before. `attachment` (files far larger than a page, which overflow either
-- way), `receipt` and `reply` (small rows) keep WITHOUT ROWID.
--
-- As in 0005: children are rebuilt first, referencing the new parent; the old tables are
-- dropped children first (so no cascade can reach the copies), and the renames carry the
-- references. random() here only numbers the rows copied now; new rows get their cell from
-- Python's `secrets`.

CREATE TABLE report_new (
    cell        INTEGER PRIMARY KEY,
    id          BLOB NOT NULL UNIQUE
                CHECK (typeof(id) = 'blob' AND length(id) = 16),
    state       TEXT NOT NULL DEFAULT 'open'
                CHECK (state IN ('open', 'complete', 'interrupted')),
    created_day TEXT NOT NULL
                CHECK (date(created_day) IS created_day),
    manifest    BLOB
                CHECK (manifest IS NULL OR (typeof(manifest) = 'blob' AND length(manifest) > 0)),
    digest_seq  INTEGER REFERENCES digest (seq),
    CHECK ((state = 'open') = (manifest IS NULL))
);

INSERT INTO report_new (cell, id, state, created_day, manifest, digest_seq)
    SELECT random(), id, state, created_day, manifest, digest_seq FROM report ORDER BY id;

CREATE TABLE answer_new (
    cell      INTEGER PRIMARY KEY,
    report_id BLOB NOT NULL REFERENCES report_new (id) ON DELETE CASCADE,
    slot      INTEGER NOT NULL CHECK (typeof(slot) = 'integer' AND slot BETWEEN 0 AND 65535),
    envelope  BLOB NOT NULL CHECK (typeof(envelope) = 'blob' AND length(envelope) > 0),
    UNIQUE (report_id, slot)
);

INSERT INTO answer_new (cell, report_id, slot, envelope)
    SELECT random(), report_id, slot, envelope FROM answer ORDER BY report_id, slot;

CREATE TABLE attachment_new (
    report_id BLOB NOT NULL REFERENCES report_new (id) ON DELETE CASCADE,
    slot      INTEGER NOT NULL CHECK (typeof(slot) = 'integer' AND slot BETWEEN 0 AND 65535),
    envelope  BLOB NOT NULL CHECK (typeof(envelope) = 'blob' AND length(envelope) > 0),
    PRIMARY KEY (report_id, slot)
) WITHOUT ROWID;

INSERT INTO attachment_new (report_id, slot, envelope)
    SELECT report_id, slot, envelope FROM attachment ORDER BY report_id, slot;

DROP TABLE answer;
DROP TABLE attachment;
DROP TABLE report;

ALTER TABLE report_new RENAME TO report;
ALTER TABLE answer_new RENAME TO answer;
ALTER TABLE attachment_new RENAME TO attachment;

CREATE INDEX report_by_state ON report (state);
CREATE INDEX report_by_digest ON report (digest_seq);
