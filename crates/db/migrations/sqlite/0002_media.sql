-- Content-addressed blobs and media metadata. Timestamps are epoch milliseconds.

-- One row per distinct content; `refcount` counts the media rows (and later thumbnails) using it.
CREATE TABLE blobs (
    sha256 TEXT NOT NULL PRIMARY KEY,
    storage_key TEXT NOT NULL UNIQUE,
    size BIGINT NOT NULL,
    refcount BIGINT NOT NULL,
    created_ts BIGINT NOT NULL
);

-- Local and remote media in one table, keyed by (origin, media_id).
CREATE TABLE media (
    origin TEXT NOT NULL,
    media_id TEXT NOT NULL,
    user_id TEXT,
    media_type TEXT,
    media_length BIGINT,
    upload_name TEXT,
    sha256 TEXT REFERENCES blobs (sha256),
    created_ts BIGINT NOT NULL,
    last_access_ts BIGINT,
    quarantined_by TEXT,
    safe_from_quarantine BOOLEAN NOT NULL DEFAULT FALSE,
    authenticated BOOLEAN NOT NULL DEFAULT FALSE,
    url_cache TEXT,
    -- Set while an asynchronously created media ID waits for its content.
    unused_expires_at BIGINT,
    PRIMARY KEY (origin, media_id)
);
CREATE INDEX media_user_created ON media (user_id, created_ts);
CREATE INDEX media_sha256 ON media (sha256);
