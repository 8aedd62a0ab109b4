-- Reports: sealed answer envelopes under a random report id and opaque slot numbers.
-- Nothing here says which question a slot holds, which branch was taken, or who reported.
-- Dates are ISO days (YYYY-MM-DD); no column holds a time of day.

CREATE TABLE report (
    id          BLOB NOT NULL PRIMARY KEY
                CHECK (typeof(id) = 'blob' AND length(id) = 16),
    state       TEXT NOT NULL DEFAULT 'open'
                CHECK (state IN ('open', 'complete', 'interrupted')),
    created_day TEXT NOT NULL
                CHECK (date(created_day) IS created_day),
    manifest    BLOB
                CHECK (manifest IS NULL OR (typeof(manifest) = 'blob' AND length(manifest) > 0)),
    -- a report is closed exactly when its sealed manifest is stored
    CHECK ((state = 'open') = (manifest IS NULL))
);

CREATE INDEX report_by_state ON report (state);

CREATE TABLE answer (
    report_id BLOB NOT NULL REFERENCES report (id) ON DELETE CASCADE,
    slot      INTEGER NOT NULL CHECK (typeof(slot) = 'integer' AND slot BETWEEN 0 AND 65535),
    envelope  BLOB NOT NULL CHECK (typeof(envelope) = 'blob' AND length(envelope) > 0),
    PRIMARY KEY (report_id, slot)
);

CREATE TABLE attachment (
    report_id BLOB NOT NULL REFERENCES report (id) ON DELETE CASCADE,
    slot      INTEGER NOT NULL CHECK (typeof(slot) = 'integer' AND slot BETWEEN 0 AND 65535),
    envelope  BLOB NOT NULL CHECK (typeof(envelope) = 'blob' AND length(envelope) > 0),
    PRIMARY KEY (report_id, slot)
);
