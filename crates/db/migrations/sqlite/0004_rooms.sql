-- Rooms, events, current state, memberships, aliases, account data, filters and the room↔media
-- index. Timestamps are epoch milliseconds. Event content is stored as JSON text.

-- The global stream: every event and account-data change takes the next position. The row lock
-- taken by `UPDATE … RETURNING` serialises writers, so positions commit in order.
CREATE TABLE stream_position (
    id INTEGER NOT NULL PRIMARY KEY,
    pos BIGINT NOT NULL
);
INSERT INTO stream_position (id, pos) VALUES (1, 0);

-- One row per room, with the derived values that listings show (Synapse's room_stats_state and
-- room_stats_current), kept current in the transaction that persists each state event.
CREATE TABLE rooms (
    room_id TEXT NOT NULL PRIMARY KEY,
    creator TEXT NOT NULL,
    room_version TEXT NOT NULL,
    is_public BOOLEAN NOT NULL DEFAULT FALSE,
    created_ts BIGINT NOT NULL,
    -- The newest event: new events reference it, and a writer that saw an older one retries.
    last_event_id TEXT,
    last_depth BIGINT NOT NULL DEFAULT 0,
    name TEXT,
    topic TEXT,
    canonical_alias TEXT,
    avatar TEXT,
    join_rules TEXT,
    guest_access TEXT,
    history_visibility TEXT,
    encryption TEXT,
    federatable BOOLEAN NOT NULL DEFAULT TRUE,
    room_type TEXT,
    joined_members BIGINT NOT NULL DEFAULT 0,
    invited_members BIGINT NOT NULL DEFAULT 0,
    state_events BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE events (
    stream_ordering BIGINT NOT NULL PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    room_id TEXT NOT NULL REFERENCES rooms (room_id),
    type TEXT NOT NULL,
    state_key TEXT,
    sender TEXT NOT NULL,
    origin_server_ts BIGINT NOT NULL,
    depth BIGINT NOT NULL,
    content TEXT NOT NULL,
    redacts TEXT,
    -- The redaction that pruned this event's content.
    redacted_by TEXT,
    -- For state events: the event this one replaced in the room state, and its content.
    replaces_state TEXT,
    prev_content TEXT,
    -- The device and transaction ID the sender used, for idempotent sends.
    txn_device TEXT,
    txn_id TEXT
);
CREATE INDEX events_room_stream ON events (room_id, stream_ordering);
CREATE UNIQUE INDEX events_txn ON events (sender, txn_device, txn_id) WHERE txn_id IS NOT NULL;

CREATE TABLE room_state (
    room_id TEXT NOT NULL REFERENCES rooms (room_id),
    type TEXT NOT NULL,
    state_key TEXT NOT NULL,
    event_id TEXT NOT NULL,
    stream_ordering BIGINT NOT NULL,
    PRIMARY KEY (room_id, type, state_key)
);

-- Current membership of each user in each room, with the profile the member event carries.
CREATE TABLE room_members (
    room_id TEXT NOT NULL REFERENCES rooms (room_id),
    user_id TEXT NOT NULL,
    membership TEXT NOT NULL,
    event_id TEXT NOT NULL,
    stream_ordering BIGINT NOT NULL,
    sender TEXT NOT NULL,
    displayname TEXT,
    avatar_url TEXT,
    forgotten BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (room_id, user_id)
);
CREATE INDEX room_members_user ON room_members (user_id, stream_ordering);

CREATE TABLE room_aliases (
    room_alias TEXT NOT NULL PRIMARY KEY,
    room_id TEXT NOT NULL REFERENCES rooms (room_id),
    creator TEXT NOT NULL,
    created_ts BIGINT NOT NULL
);
CREATE INDEX room_aliases_room ON room_aliases (room_id);

-- Every MXC URI an event references, recorded when the event is persisted. `field` is
-- content.url (any event type with a string `url`, m.room.avatar included),
-- content.info.thumbnail_url (only when content.url is a string, as Synapse lists them) or
-- content.avatar_url (m.room.member). Encrypted events are opaque and record nothing.
CREATE TABLE room_media (
    room_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    stream_ordering BIGINT NOT NULL,
    field TEXT NOT NULL,
    origin TEXT NOT NULL,
    media_id TEXT NOT NULL,
    redacted BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (event_id, field)
);
CREATE INDEX room_media_room ON room_media (room_id, stream_ordering);
CREATE INDEX room_media_media ON room_media (origin, media_id);

-- Global (room_id = '') and per-room account data.
CREATE TABLE account_data (
    user_id TEXT NOT NULL,
    room_id TEXT NOT NULL,
    type TEXT NOT NULL,
    content TEXT NOT NULL,
    stream_id BIGINT NOT NULL,
    PRIMARY KEY (user_id, room_id, type)
);
CREATE INDEX account_data_stream ON account_data (user_id, stream_id);

CREATE TABLE user_filters (
    user_id TEXT NOT NULL,
    filter_id BIGINT NOT NULL,
    filter_json TEXT NOT NULL,
    PRIMARY KEY (user_id, filter_id)
);
