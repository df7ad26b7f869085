-- Deleting old media (`POST /_synapse/admin/v1/media/delete`, `purge_media_cache`) selects rows
-- by origin and age: the last access, or the creation for media never accessed.
CREATE INDEX media_origin_age ON media (origin, COALESCE(last_access_ts, created_ts));
