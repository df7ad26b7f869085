-- Blobs recorded before their bytes were durable: an upload on SQLite commits its metadata
-- while the file is still being synced, and clears this flag once it is. At startup every
-- flagged blob is checked against its stored bytes (hash and size) before anything is served;
-- one that does not match is removed with every media row referencing it (none of those
-- uploads was ever answered).
ALTER TABLE blobs ADD COLUMN unsynced BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX blobs_unsynced ON blobs (storage_key) WHERE unsynced;
