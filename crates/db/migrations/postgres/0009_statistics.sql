-- Statistics kept exact by triggers, in the transaction that changes the rows they count, so
-- every write path (uploads, the group commit, async creates, deletes, purges) keeps them right.

-- Local media per uploader and UTC day of `created_ts` (remote rows have no `user_id`).
-- `length_count` counts the rows whose `media_length` is known: a user whose every row is a
-- pending upload has a NULL sum, as Synapse reports it.
CREATE TABLE user_media_daily (
    user_id TEXT NOT NULL,
    day BIGINT NOT NULL,
    media_count BIGINT NOT NULL,
    media_length BIGINT NOT NULL,
    length_count BIGINT NOT NULL,
    PRIMARY KEY (user_id, day)
);
-- The same, over all time: the unbounded query reads one row per user.
CREATE TABLE user_media_totals (
    user_id TEXT NOT NULL PRIMARY KEY,
    media_count BIGINT NOT NULL,
    media_length BIGINT NOT NULL,
    length_count BIGINT NOT NULL
);
-- The partial days at the edges of a `from_ts`/`until_ts` window are counted from the rows.
CREATE INDEX media_local_created ON media (created_ts) WHERE user_id IS NOT NULL;

INSERT INTO user_media_daily (user_id, day, media_count, media_length, length_count)
SELECT user_id, created_ts / 86400000, COUNT(*), COALESCE(SUM(media_length), 0), COUNT(media_length)
FROM media WHERE user_id IS NOT NULL GROUP BY user_id, created_ts / 86400000;
INSERT INTO user_media_totals (user_id, media_count, media_length, length_count)
SELECT user_id, SUM(media_count), SUM(media_length), SUM(length_count)
FROM user_media_daily GROUP BY user_id;

-- Adds (sign 1) or removes (sign -1) one media row's contribution.
CREATE FUNCTION user_media_apply(uid TEXT, ts BIGINT, len BIGINT, sign BIGINT) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO user_media_daily AS d (user_id, day, media_count, media_length, length_count)
    VALUES (uid, ts / 86400000, sign, sign * COALESCE(len, 0),
            CASE WHEN len IS NULL THEN 0 ELSE sign END)
    ON CONFLICT (user_id, day) DO UPDATE SET media_count = d.media_count + EXCLUDED.media_count,
        media_length = d.media_length + EXCLUDED.media_length,
        length_count = d.length_count + EXCLUDED.length_count;
    INSERT INTO user_media_totals AS t (user_id, media_count, media_length, length_count)
    VALUES (uid, sign, sign * COALESCE(len, 0), CASE WHEN len IS NULL THEN 0 ELSE sign END)
    ON CONFLICT (user_id) DO UPDATE SET media_count = t.media_count + EXCLUDED.media_count,
        media_length = t.media_length + EXCLUDED.media_length,
        length_count = t.length_count + EXCLUDED.length_count;
    IF sign < 0 THEN
        DELETE FROM user_media_daily
        WHERE user_id = uid AND day = ts / 86400000 AND media_count = 0;
        DELETE FROM user_media_totals WHERE user_id = uid AND media_count = 0;
    END IF;
END $$;

CREATE FUNCTION user_media_stats() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') AND OLD.user_id IS NOT NULL THEN
        PERFORM user_media_apply(OLD.user_id, OLD.created_ts, OLD.media_length, -1);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.user_id IS NOT NULL THEN
        PERFORM user_media_apply(NEW.user_id, NEW.created_ts, NEW.media_length, 1);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER user_media_add_remove AFTER INSERT OR DELETE ON media
FOR EACH ROW EXECUTE FUNCTION user_media_stats();
-- A change of owner, time or length is a removal of the old row and an addition of the new.
CREATE TRIGGER user_media_change AFTER UPDATE OF user_id, created_ts, media_length ON media
FOR EACH ROW WHEN (OLD.user_id IS DISTINCT FROM NEW.user_id
    OR OLD.created_ts IS DISTINCT FROM NEW.created_ts
    OR OLD.media_length IS DISTINCT FROM NEW.media_length)
EXECUTE FUNCTION user_media_stats();

-- Bytes each room takes in the database, for /statistics/database/rooms: the UTF-8 length of every
-- text column of its rows in events, room_state, room_members and room_media, plus a fixed
-- per-row overhead for the integer columns and row header (events 64, room_members 40,
-- room_state and room_media 32). Kept by triggers; see docs/admin-api.md.
CREATE TABLE room_sizes (
    room_id TEXT NOT NULL PRIMARY KEY,
    bytes BIGINT NOT NULL
);
CREATE INDEX room_sizes_largest ON room_sizes (bytes DESC, room_id);

INSERT INTO room_sizes (room_id, bytes)
SELECT room_id, SUM(bytes) FROM (
    SELECT t.room_id, 64 + COALESCE(octet_length(t.room_id), 0) + COALESCE(octet_length(t.event_id), 0) + COALESCE(octet_length(t.type), 0) + COALESCE(octet_length(t.state_key), 0) + COALESCE(octet_length(t.sender), 0) + COALESCE(octet_length(t.content), 0) + COALESCE(octet_length(t.redacts), 0) + COALESCE(octet_length(t.redacted_by), 0) + COALESCE(octet_length(t.replaces_state), 0) + COALESCE(octet_length(t.prev_content), 0) + COALESCE(octet_length(t.txn_device), 0) + COALESCE(octet_length(t.txn_id), 0) AS bytes FROM events t
    UNION ALL SELECT t.room_id, 32 + COALESCE(octet_length(t.room_id), 0) + COALESCE(octet_length(t.type), 0) + COALESCE(octet_length(t.state_key), 0) + COALESCE(octet_length(t.event_id), 0) AS bytes FROM room_state t
    UNION ALL SELECT t.room_id, 40 + COALESCE(octet_length(t.room_id), 0) + COALESCE(octet_length(t.user_id), 0) + COALESCE(octet_length(t.membership), 0) + COALESCE(octet_length(t.event_id), 0) + COALESCE(octet_length(t.sender), 0) + COALESCE(octet_length(t.displayname), 0) + COALESCE(octet_length(t.avatar_url), 0) AS bytes FROM room_members t
    UNION ALL SELECT t.room_id, 32 + COALESCE(octet_length(t.room_id), 0) + COALESCE(octet_length(t.event_id), 0) + COALESCE(octet_length(t.event_type), 0) + COALESCE(octet_length(t.field), 0) + COALESCE(octet_length(t.origin), 0) + COALESCE(octet_length(t.media_id), 0) AS bytes FROM room_media t
) s GROUP BY room_id;

CREATE FUNCTION events_size() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        UPDATE room_sizes SET bytes = bytes - (64 + COALESCE(octet_length(OLD.room_id), 0) + COALESCE(octet_length(OLD.event_id), 0) + COALESCE(octet_length(OLD.type), 0) + COALESCE(octet_length(OLD.state_key), 0) + COALESCE(octet_length(OLD.sender), 0) + COALESCE(octet_length(OLD.content), 0) + COALESCE(octet_length(OLD.redacts), 0) + COALESCE(octet_length(OLD.redacted_by), 0) + COALESCE(octet_length(OLD.replaces_state), 0) + COALESCE(octet_length(OLD.prev_content), 0) + COALESCE(octet_length(OLD.txn_device), 0) + COALESCE(octet_length(OLD.txn_id), 0))
        WHERE room_id = OLD.room_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO room_sizes (room_id, bytes) VALUES (NEW.room_id, 64 + COALESCE(octet_length(NEW.room_id), 0) + COALESCE(octet_length(NEW.event_id), 0) + COALESCE(octet_length(NEW.type), 0) + COALESCE(octet_length(NEW.state_key), 0) + COALESCE(octet_length(NEW.sender), 0) + COALESCE(octet_length(NEW.content), 0) + COALESCE(octet_length(NEW.redacts), 0) + COALESCE(octet_length(NEW.redacted_by), 0) + COALESCE(octet_length(NEW.replaces_state), 0) + COALESCE(octet_length(NEW.prev_content), 0) + COALESCE(octet_length(NEW.txn_device), 0) + COALESCE(octet_length(NEW.txn_id), 0))
        ON CONFLICT (room_id) DO UPDATE SET bytes = room_sizes.bytes + excluded.bytes;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER events_size AFTER INSERT OR UPDATE OR DELETE ON events
FOR EACH ROW EXECUTE FUNCTION events_size();

CREATE FUNCTION room_state_size() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        UPDATE room_sizes SET bytes = bytes - (32 + COALESCE(octet_length(OLD.room_id), 0) + COALESCE(octet_length(OLD.type), 0) + COALESCE(octet_length(OLD.state_key), 0) + COALESCE(octet_length(OLD.event_id), 0))
        WHERE room_id = OLD.room_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO room_sizes (room_id, bytes) VALUES (NEW.room_id, 32 + COALESCE(octet_length(NEW.room_id), 0) + COALESCE(octet_length(NEW.type), 0) + COALESCE(octet_length(NEW.state_key), 0) + COALESCE(octet_length(NEW.event_id), 0))
        ON CONFLICT (room_id) DO UPDATE SET bytes = room_sizes.bytes + excluded.bytes;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER room_state_size AFTER INSERT OR UPDATE OR DELETE ON room_state
FOR EACH ROW EXECUTE FUNCTION room_state_size();

CREATE FUNCTION room_members_size() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        UPDATE room_sizes SET bytes = bytes - (40 + COALESCE(octet_length(OLD.room_id), 0) + COALESCE(octet_length(OLD.user_id), 0) + COALESCE(octet_length(OLD.membership), 0) + COALESCE(octet_length(OLD.event_id), 0) + COALESCE(octet_length(OLD.sender), 0) + COALESCE(octet_length(OLD.displayname), 0) + COALESCE(octet_length(OLD.avatar_url), 0))
        WHERE room_id = OLD.room_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO room_sizes (room_id, bytes) VALUES (NEW.room_id, 40 + COALESCE(octet_length(NEW.room_id), 0) + COALESCE(octet_length(NEW.user_id), 0) + COALESCE(octet_length(NEW.membership), 0) + COALESCE(octet_length(NEW.event_id), 0) + COALESCE(octet_length(NEW.sender), 0) + COALESCE(octet_length(NEW.displayname), 0) + COALESCE(octet_length(NEW.avatar_url), 0))
        ON CONFLICT (room_id) DO UPDATE SET bytes = room_sizes.bytes + excluded.bytes;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER room_members_size AFTER INSERT OR UPDATE OR DELETE ON room_members
FOR EACH ROW EXECUTE FUNCTION room_members_size();

CREATE FUNCTION room_media_size() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        UPDATE room_sizes SET bytes = bytes - (32 + COALESCE(octet_length(OLD.room_id), 0) + COALESCE(octet_length(OLD.event_id), 0) + COALESCE(octet_length(OLD.event_type), 0) + COALESCE(octet_length(OLD.field), 0) + COALESCE(octet_length(OLD.origin), 0) + COALESCE(octet_length(OLD.media_id), 0))
        WHERE room_id = OLD.room_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO room_sizes (room_id, bytes) VALUES (NEW.room_id, 32 + COALESCE(octet_length(NEW.room_id), 0) + COALESCE(octet_length(NEW.event_id), 0) + COALESCE(octet_length(NEW.event_type), 0) + COALESCE(octet_length(NEW.field), 0) + COALESCE(octet_length(NEW.origin), 0) + COALESCE(octet_length(NEW.media_id), 0))
        ON CONFLICT (room_id) DO UPDATE SET bytes = room_sizes.bytes + excluded.bytes;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER room_media_size AFTER INSERT OR UPDATE OR DELETE ON room_media
FOR EACH ROW EXECUTE FUNCTION room_media_size();

