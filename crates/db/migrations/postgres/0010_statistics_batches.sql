-- Deleting media in batches (the admin deletes, the remote-cache purge, a user's media): the
-- statistics of the deleted rows are subtracted once per statement, grouped by uploader and day,
-- instead of once per row. Rows are locked days first, then totals, each in key order: uploads
-- lock a day before the totals too, so concurrent deletes and uploads cannot deadlock.
DROP TRIGGER user_media_add_remove ON media;
CREATE TRIGGER user_media_add AFTER INSERT ON media
FOR EACH ROW EXECUTE FUNCTION user_media_stats();

CREATE FUNCTION user_media_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM user_media_daily d
    WHERE (d.user_id, d.day) IN (SELECT user_id, created_ts / 86400000 FROM gone)
    ORDER BY d.user_id, d.day FOR UPDATE;
    PERFORM 1 FROM user_media_totals t WHERE t.user_id IN (SELECT user_id FROM gone)
    ORDER BY t.user_id FOR UPDATE;

    UPDATE user_media_daily d SET media_count = d.media_count - g.n,
        media_length = d.media_length - g.len, length_count = d.length_count - g.lc
    FROM (SELECT user_id, created_ts / 86400000 AS day, COUNT(*) AS n,
                 COALESCE(SUM(media_length), 0) AS len, COUNT(media_length) AS lc
          FROM gone WHERE user_id IS NOT NULL GROUP BY 1, 2) g
    WHERE d.user_id = g.user_id AND d.day = g.day;
    DELETE FROM user_media_daily d
    WHERE d.media_count = 0 AND (d.user_id, d.day) IN (SELECT user_id, created_ts / 86400000 FROM gone);

    UPDATE user_media_totals t SET media_count = t.media_count - g.n,
        media_length = t.media_length - g.len, length_count = t.length_count - g.lc
    FROM (SELECT user_id, COUNT(*) AS n, COALESCE(SUM(media_length), 0) AS len,
                 COUNT(media_length) AS lc
          FROM gone WHERE user_id IS NOT NULL GROUP BY 1) g
    WHERE t.user_id = g.user_id;
    DELETE FROM user_media_totals t
    WHERE t.media_count = 0 AND t.user_id IN (SELECT user_id FROM gone);
    RETURN NULL;
END $$;
CREATE TRIGGER user_media_removed AFTER DELETE ON media
REFERENCING OLD TABLE AS gone
FOR EACH STATEMENT EXECUTE FUNCTION user_media_removed();

-- Blob rows are reference-counted in the transaction that adds or drops each reference (media
-- rows, thumbnails), so these foreign keys only repeated that bookkeeping, at a price: every
-- deleted blob row ran three lookups (the bulk of a deletion batch), and a batch had to delete
-- its media rows, and so lock the statistics rows above, before its blob rows. The invariant is
-- checked by the randomised test in crates/db/tests/statistics.rs. (SQLite keeps them; a
-- deletion batch defers them to its commit there.)
ALTER TABLE media DROP CONSTRAINT media_sha256_fkey;
ALTER TABLE thumbnails DROP CONSTRAINT thumbnails_source_sha256_fkey;
ALTER TABLE thumbnails DROP CONSTRAINT thumbnails_sha256_fkey;
