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

CREATE TRIGGER user_media_add AFTER INSERT ON media WHEN NEW.user_id IS NOT NULL
BEGIN
    INSERT INTO user_media_daily (user_id, day, media_count, media_length, length_count)
    VALUES (NEW.user_id, NEW.created_ts / 86400000, 1, COALESCE(NEW.media_length, 0),
            NEW.media_length IS NOT NULL)
    ON CONFLICT (user_id, day) DO UPDATE SET media_count = media_count + 1,
        media_length = media_length + excluded.media_length,
        length_count = length_count + excluded.length_count;
    INSERT INTO user_media_totals (user_id, media_count, media_length, length_count)
    VALUES (NEW.user_id, 1, COALESCE(NEW.media_length, 0), NEW.media_length IS NOT NULL)
    ON CONFLICT (user_id) DO UPDATE SET media_count = media_count + 1,
        media_length = media_length + excluded.media_length,
        length_count = length_count + excluded.length_count;
END;

CREATE TRIGGER user_media_remove AFTER DELETE ON media WHEN OLD.user_id IS NOT NULL
BEGIN
    UPDATE user_media_daily SET media_count = media_count - 1,
        media_length = media_length - COALESCE(OLD.media_length, 0),
        length_count = length_count - (OLD.media_length IS NOT NULL)
    WHERE user_id = OLD.user_id AND day = OLD.created_ts / 86400000;
    DELETE FROM user_media_daily
    WHERE user_id = OLD.user_id AND day = OLD.created_ts / 86400000 AND media_count = 0;
    UPDATE user_media_totals SET media_count = media_count - 1,
        media_length = media_length - COALESCE(OLD.media_length, 0),
        length_count = length_count - (OLD.media_length IS NOT NULL)
    WHERE user_id = OLD.user_id;
    DELETE FROM user_media_totals WHERE user_id = OLD.user_id AND media_count = 0;
END;

-- A change of owner, time or length is a removal of the old row and an addition of the new.
CREATE TRIGGER user_media_change AFTER UPDATE OF user_id, created_ts, media_length ON media
WHEN OLD.user_id IS NOT NEW.user_id OR OLD.created_ts IS NOT NEW.created_ts
    OR OLD.media_length IS NOT NEW.media_length
BEGIN
    UPDATE user_media_daily SET media_count = media_count - 1,
        media_length = media_length - COALESCE(OLD.media_length, 0),
        length_count = length_count - (OLD.media_length IS NOT NULL)
    WHERE OLD.user_id IS NOT NULL AND user_id = OLD.user_id AND day = OLD.created_ts / 86400000;
    DELETE FROM user_media_daily
    WHERE user_id = OLD.user_id AND day = OLD.created_ts / 86400000 AND media_count = 0;
    UPDATE user_media_totals SET media_count = media_count - 1,
        media_length = media_length - COALESCE(OLD.media_length, 0),
        length_count = length_count - (OLD.media_length IS NOT NULL)
    WHERE OLD.user_id IS NOT NULL AND user_id = OLD.user_id;
    DELETE FROM user_media_totals WHERE user_id = OLD.user_id AND media_count = 0;
    INSERT INTO user_media_daily (user_id, day, media_count, media_length, length_count)
    SELECT NEW.user_id, NEW.created_ts / 86400000, 1, COALESCE(NEW.media_length, 0),
           NEW.media_length IS NOT NULL
    WHERE NEW.user_id IS NOT NULL
    ON CONFLICT (user_id, day) DO UPDATE SET media_count = media_count + 1,
        media_length = media_length + excluded.media_length,
        length_count = length_count + excluded.length_count;
    INSERT INTO user_media_totals (user_id, media_count, media_length, length_count)
    SELECT NEW.user_id, 1, COALESCE(NEW.media_length, 0), NEW.media_length IS NOT NULL
    WHERE NEW.user_id IS NOT NULL
    ON CONFLICT (user_id) DO UPDATE SET media_count = media_count + 1,
        media_length = media_length + excluded.media_length,
        length_count = length_count + excluded.length_count;
END;


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

CREATE TRIGGER events_size_add AFTER INSERT ON events
BEGIN
    INSERT INTO room_sizes (room_id, bytes) VALUES (NEW.room_id, 64 + COALESCE(octet_length(NEW.room_id), 0) + COALESCE(octet_length(NEW.event_id), 0) + COALESCE(octet_length(NEW.type), 0) + COALESCE(octet_length(NEW.state_key), 0) + COALESCE(octet_length(NEW.sender), 0) + COALESCE(octet_length(NEW.content), 0) + COALESCE(octet_length(NEW.redacts), 0) + COALESCE(octet_length(NEW.redacted_by), 0) + COALESCE(octet_length(NEW.replaces_state), 0) + COALESCE(octet_length(NEW.prev_content), 0) + COALESCE(octet_length(NEW.txn_device), 0) + COALESCE(octet_length(NEW.txn_id), 0))
        ON CONFLICT (room_id) DO UPDATE SET bytes = room_sizes.bytes + excluded.bytes;
END;

CREATE TRIGGER events_size_remove AFTER DELETE ON events
BEGIN
    UPDATE room_sizes SET bytes = bytes - (64 + COALESCE(octet_length(OLD.room_id), 0) + COALESCE(octet_length(OLD.event_id), 0) + COALESCE(octet_length(OLD.type), 0) + COALESCE(octet_length(OLD.state_key), 0) + COALESCE(octet_length(OLD.sender), 0) + COALESCE(octet_length(OLD.content), 0) + COALESCE(octet_length(OLD.redacts), 0) + COALESCE(octet_length(OLD.redacted_by), 0) + COALESCE(octet_length(OLD.replaces_state), 0) + COALESCE(octet_length(OLD.prev_content), 0) + COALESCE(octet_length(OLD.txn_device), 0) + COALESCE(octet_length(OLD.txn_id), 0))
    WHERE room_id = OLD.room_id;
END;

CREATE TRIGGER events_size_change AFTER UPDATE ON events
BEGIN
    UPDATE room_sizes SET bytes = bytes - (64 + COALESCE(octet_length(OLD.room_id), 0) + COALESCE(octet_length(OLD.event_id), 0) + COALESCE(octet_length(OLD.type), 0) + COALESCE(octet_length(OLD.state_key), 0) + COALESCE(octet_length(OLD.sender), 0) + COALESCE(octet_length(OLD.content), 0) + COALESCE(octet_length(OLD.redacts), 0) + COALESCE(octet_length(OLD.redacted_by), 0) + COALESCE(octet_length(OLD.replaces_state), 0) + COALESCE(octet_length(OLD.prev_content), 0) + COALESCE(octet_length(OLD.txn_device), 0) + COALESCE(octet_length(OLD.txn_id), 0))
        + (64 + COALESCE(octet_length(NEW.room_id), 0) + COALESCE(octet_length(NEW.event_id), 0) + COALESCE(octet_length(NEW.type), 0) + COALESCE(octet_length(NEW.state_key), 0) + COALESCE(octet_length(NEW.sender), 0) + COALESCE(octet_length(NEW.content), 0) + COALESCE(octet_length(NEW.redacts), 0) + COALESCE(octet_length(NEW.redacted_by), 0) + COALESCE(octet_length(NEW.replaces_state), 0) + COALESCE(octet_length(NEW.prev_content), 0) + COALESCE(octet_length(NEW.txn_device), 0) + COALESCE(octet_length(NEW.txn_id), 0))
    WHERE room_id = NEW.room_id;
END;

CREATE TRIGGER room_state_size_add AFTER INSERT ON room_state
BEGIN
    INSERT INTO room_sizes (room_id, bytes) VALUES (NEW.room_id, 32 + COALESCE(octet_length(NEW.room_id), 0) + COALESCE(octet_length(NEW.type), 0) + COALESCE(octet_length(NEW.state_key), 0) + COALESCE(octet_length(NEW.event_id), 0))
        ON CONFLICT (room_id) DO UPDATE SET bytes = room_sizes.bytes + excluded.bytes;
END;

CREATE TRIGGER room_state_size_remove AFTER DELETE ON room_state
BEGIN
    UPDATE room_sizes SET bytes = bytes - (32 + COALESCE(octet_length(OLD.room_id), 0) + COALESCE(octet_length(OLD.type), 0) + COALESCE(octet_length(OLD.state_key), 0) + COALESCE(octet_length(OLD.event_id), 0))
    WHERE room_id = OLD.room_id;
END;

CREATE TRIGGER room_state_size_change AFTER UPDATE ON room_state
BEGIN
    UPDATE room_sizes SET bytes = bytes - (32 + COALESCE(octet_length(OLD.room_id), 0) + COALESCE(octet_length(OLD.type), 0) + COALESCE(octet_length(OLD.state_key), 0) + COALESCE(octet_length(OLD.event_id), 0))
        + (32 + COALESCE(octet_length(NEW.room_id), 0) + COALESCE(octet_length(NEW.type), 0) + COALESCE(octet_length(NEW.state_key), 0) + COALESCE(octet_length(NEW.event_id), 0))
    WHERE room_id = NEW.room_id;
END;

CREATE TRIGGER room_members_size_add AFTER INSERT ON room_members
BEGIN
    INSERT INTO room_sizes (room_id, bytes) VALUES (NEW.room_id, 40 + COALESCE(octet_length(NEW.room_id), 0) + COALESCE(octet_length(NEW.user_id), 0) + COALESCE(octet_length(NEW.membership), 0) + COALESCE(octet_length(NEW.event_id), 0) + COALESCE(octet_length(NEW.sender), 0) + COALESCE(octet_length(NEW.displayname), 0) + COALESCE(octet_length(NEW.avatar_url), 0))
        ON CONFLICT (room_id) DO UPDATE SET bytes = room_sizes.bytes + excluded.bytes;
END;

CREATE TRIGGER room_members_size_remove AFTER DELETE ON room_members
BEGIN
    UPDATE room_sizes SET bytes = bytes - (40 + COALESCE(octet_length(OLD.room_id), 0) + COALESCE(octet_length(OLD.user_id), 0) + COALESCE(octet_length(OLD.membership), 0) + COALESCE(octet_length(OLD.event_id), 0) + COALESCE(octet_length(OLD.sender), 0) + COALESCE(octet_length(OLD.displayname), 0) + COALESCE(octet_length(OLD.avatar_url), 0))
    WHERE room_id = OLD.room_id;
END;

CREATE TRIGGER room_members_size_change AFTER UPDATE ON room_members
BEGIN
    UPDATE room_sizes SET bytes = bytes - (40 + COALESCE(octet_length(OLD.room_id), 0) + COALESCE(octet_length(OLD.user_id), 0) + COALESCE(octet_length(OLD.membership), 0) + COALESCE(octet_length(OLD.event_id), 0) + COALESCE(octet_length(OLD.sender), 0) + COALESCE(octet_length(OLD.displayname), 0) + COALESCE(octet_length(OLD.avatar_url), 0))
        + (40 + COALESCE(octet_length(NEW.room_id), 0) + COALESCE(octet_length(NEW.user_id), 0) + COALESCE(octet_length(NEW.membership), 0) + COALESCE(octet_length(NEW.event_id), 0) + COALESCE(octet_length(NEW.sender), 0) + COALESCE(octet_length(NEW.displayname), 0) + COALESCE(octet_length(NEW.avatar_url), 0))
    WHERE room_id = NEW.room_id;
END;

CREATE TRIGGER room_media_size_add AFTER INSERT ON room_media
BEGIN
    INSERT INTO room_sizes (room_id, bytes) VALUES (NEW.room_id, 32 + COALESCE(octet_length(NEW.room_id), 0) + COALESCE(octet_length(NEW.event_id), 0) + COALESCE(octet_length(NEW.event_type), 0) + COALESCE(octet_length(NEW.field), 0) + COALESCE(octet_length(NEW.origin), 0) + COALESCE(octet_length(NEW.media_id), 0))
        ON CONFLICT (room_id) DO UPDATE SET bytes = room_sizes.bytes + excluded.bytes;
END;

CREATE TRIGGER room_media_size_remove AFTER DELETE ON room_media
BEGIN
    UPDATE room_sizes SET bytes = bytes - (32 + COALESCE(octet_length(OLD.room_id), 0) + COALESCE(octet_length(OLD.event_id), 0) + COALESCE(octet_length(OLD.event_type), 0) + COALESCE(octet_length(OLD.field), 0) + COALESCE(octet_length(OLD.origin), 0) + COALESCE(octet_length(OLD.media_id), 0))
    WHERE room_id = OLD.room_id;
END;

CREATE TRIGGER room_media_size_change AFTER UPDATE ON room_media
BEGIN
    UPDATE room_sizes SET bytes = bytes - (32 + COALESCE(octet_length(OLD.room_id), 0) + COALESCE(octet_length(OLD.event_id), 0) + COALESCE(octet_length(OLD.event_type), 0) + COALESCE(octet_length(OLD.field), 0) + COALESCE(octet_length(OLD.origin), 0) + COALESCE(octet_length(OLD.media_id), 0))
        + (32 + COALESCE(octet_length(NEW.room_id), 0) + COALESCE(octet_length(NEW.event_id), 0) + COALESCE(octet_length(NEW.event_type), 0) + COALESCE(octet_length(NEW.field), 0) + COALESCE(octet_length(NEW.origin), 0) + COALESCE(octet_length(NEW.media_id), 0))
    WHERE room_id = NEW.room_id;
END;

