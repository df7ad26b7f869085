-- Thumbnails, keyed by the content they were made from, so identical sources share them. Their
-- bytes are blobs like any other: each row holds one reference to the blob `sha256`.
-- `width`/`height` are the size a thumbnail was made for: the actual size for pre-generated
-- ones, the requested size for dynamic ones (as Synapse keys them).
CREATE TABLE thumbnails (
    source_sha256 TEXT NOT NULL REFERENCES blobs (sha256),
    width BIGINT NOT NULL,
    height BIGINT NOT NULL,
    method TEXT NOT NULL,
    media_type TEXT NOT NULL,
    sha256 TEXT NOT NULL REFERENCES blobs (sha256),
    length BIGINT NOT NULL,
    created_ts BIGINT NOT NULL,
    PRIMARY KEY (source_sha256, width, height, method, media_type)
);
CREATE INDEX thumbnails_sha256 ON thumbnails (sha256);

-- When thumbnails were pre-generated for this content (successfully or not); NULL: never tried.
ALTER TABLE blobs ADD COLUMN thumbnailed_ts BIGINT;
