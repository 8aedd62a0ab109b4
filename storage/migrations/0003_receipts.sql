-- Receipts: an argon2id-derived lookup tag finds a report from the code a reporter kept; the code
-- itself is never stored. Replies are sealed to a key derived from the code, so the server cannot
-- read them without it.

CREATE TABLE receipt_salt (
    id   INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    salt BLOB NOT NULL CHECK (typeof(salt) = 'blob' AND length(salt) = 16)
);

INSERT INTO receipt_salt (id, salt) VALUES (1, randomblob(16));

-- not a foreign key to report: a receipt outlives the report's envelopes (see RetentionPolicy)
CREATE TABLE receipt (
    report_id   BLOB NOT NULL PRIMARY KEY
                CHECK (typeof(report_id) = 'blob' AND length(report_id) = 16),
    tag         BLOB NOT NULL UNIQUE
                CHECK (typeof(tag) = 'blob' AND length(tag) BETWEEN 16 AND 64),
    created_day TEXT NOT NULL CHECK (date(created_day) IS created_day)
);

CREATE TABLE reply (
    report_id   BLOB NOT NULL REFERENCES receipt (report_id) ON DELETE CASCADE,
    n           INTEGER NOT NULL CHECK (n > 0),
    sealed      BLOB NOT NULL CHECK (typeof(sealed) = 'blob' AND length(sealed) > 0),
    created_day TEXT NOT NULL CHECK (date(created_day) IS created_day),
    PRIMARY KEY (report_id, n)
);
