-- Federation: other servers' signing keys, as fetched from their `/_matrix/key/v2/server`.
-- Kept in the database so that every instance shares them. Timestamps are epoch milliseconds.
CREATE TABLE server_keys (
    server_name TEXT NOT NULL,
    -- `ed25519:abc`
    key_id TEXT NOT NULL,
    -- Unpadded standard base64, as served.
    public_key TEXT NOT NULL,
    -- Requests signed with the key are accepted until then: `valid_until_ts` (at most a week
    -- after the fetch) for a current key, `expired_ts` for an old one.
    valid_until_ts BIGINT NOT NULL,
    fetched_ts BIGINT NOT NULL,
    PRIMARY KEY (server_name, key_id)
);
