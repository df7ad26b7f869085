-- Accounts, devices, access tokens and registration state. Timestamps are epoch milliseconds.
CREATE TABLE users (
    user_id TEXT NOT NULL PRIMARY KEY,
    password_hash TEXT,
    admin BOOLEAN NOT NULL DEFAULT FALSE,
    is_guest BOOLEAN NOT NULL DEFAULT FALSE,
    deactivated BOOLEAN NOT NULL DEFAULT FALSE,
    shadow_banned BOOLEAN NOT NULL DEFAULT FALSE,
    locked BOOLEAN NOT NULL DEFAULT FALSE,
    user_type TEXT,
    created_ts BIGINT NOT NULL
);
CREATE INDEX users_lower_user_id ON users (lower(user_id));

CREATE TABLE profiles (
    user_id TEXT NOT NULL PRIMARY KEY REFERENCES users (user_id),
    displayname TEXT,
    avatar_url TEXT
);

CREATE TABLE devices (
    user_id TEXT NOT NULL REFERENCES users (user_id),
    device_id TEXT NOT NULL,
    display_name TEXT,
    created_ts BIGINT NOT NULL,
    PRIMARY KEY (user_id, device_id)
);

CREATE TABLE access_tokens (
    token_hash TEXT NOT NULL PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (user_id),
    device_id TEXT NOT NULL,
    created_ts BIGINT NOT NULL,
    last_used_ts BIGINT,
    last_used_ip TEXT,
    last_used_user_agent TEXT
);
CREATE INDEX access_tokens_user_device ON access_tokens (user_id, device_id);

CREATE TABLE registration_nonces (
    nonce TEXT NOT NULL PRIMARY KEY,
    created_ts BIGINT NOT NULL
);

CREATE TABLE registration_tokens (
    token TEXT NOT NULL PRIMARY KEY,
    uses_allowed INTEGER,
    pending INTEGER NOT NULL DEFAULT 0,
    completed INTEGER NOT NULL DEFAULT 0,
    expiry_time BIGINT
);

CREATE TABLE ui_auth_sessions (
    session_id TEXT NOT NULL PRIMARY KEY,
    created_ts BIGINT NOT NULL,
    completed_stages TEXT NOT NULL DEFAULT '',
    registration_token TEXT
);
