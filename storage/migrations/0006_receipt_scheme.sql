-- Issue 13.5: receipts made now derive their lookup tag with scheme 2 (a secret salt that is
-- never stored: one argon2id run to make a receipt, 2^k to find it; bot/receipts/derivation.py).
-- Each tag keeps the scheme it was made with: every row before this migration is scheme 1, and a
-- lookup runs scheme 1's argon2id only while a scheme-1 row is left (retention prunes them).
-- The index holds (scheme, random report id): it says nothing a row does not.

ALTER TABLE receipt ADD COLUMN scheme INTEGER NOT NULL DEFAULT 1 CHECK (scheme IN (1, 2));

CREATE INDEX receipt_by_scheme ON receipt (scheme);
