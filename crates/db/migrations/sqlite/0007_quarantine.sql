-- Quarantine (media admin API). Timestamps are epoch milliseconds.

-- Every content hash an admin quarantined, so that later uploads *and* later remote fetches of
-- the same bytes are recorded quarantined (by "system"), even once no row with that hash is left.
-- Unquarantining removes the hash.
CREATE TABLE quarantined_hashes (
    sha256 TEXT NOT NULL PRIMARY KEY,
    quarantined_by TEXT NOT NULL,
    quarantined_ts BIGINT NOT NULL
);

-- Synapse's `quarantined_media_changes` stream: one row per media row a quarantine or
-- unquarantine changed, numbered from 2 (position 1 is the empty stream).
CREATE TABLE quarantined_media_changes (
    stream_id BIGINT NOT NULL PRIMARY KEY,
    origin TEXT NOT NULL,
    media_id TEXT NOT NULL,
    quarantined BOOLEAN NOT NULL
);

-- The stream's position; writers take ids with `UPDATE … RETURNING`, whose row lock orders
-- them, so a position read is never ahead of a change still being written.
CREATE TABLE quarantine_stream (
    id INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    pos BIGINT NOT NULL
);
INSERT INTO quarantine_stream (id, pos) VALUES (1, 1);
