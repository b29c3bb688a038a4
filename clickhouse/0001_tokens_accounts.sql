-- Client tokens and upstream accounts: small tables of current state, updated by writing a newer
-- version of the row. ReplacingMergeTree keeps the highest version per id; readers use FINAL so
-- they see the newest version before background merges have run.

CREATE TABLE IF NOT EXISTS tokens
(
    id                          String,                       -- the JWT's jti
    name                        String,                       -- the JWT's name claim (the user)
    mode                        LowCardinality(String),       -- web | api | both
    created_at                  DateTime64(3, 'UTC'),
    expires_at                  DateTime64(3, 'UTC'),
    revoked_at                  Nullable(DateTime64(3, 'UTC')),
    enable_conversation_logging Bool DEFAULT false,
    version                     UInt64                        -- microseconds since the epoch of this change
)
ENGINE = ReplacingMergeTree(version)
ORDER BY id;

-- When each token was last used. Written at most once a minute per token, apart from tokens, so a
-- busy token does not rewrite its settings row on every request.
CREATE TABLE IF NOT EXISTS token_last_used
(
    token_id     String,
    last_used_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(last_used_at)
ORDER BY token_id;

CREATE TABLE IF NOT EXISTS accounts
(
    id          String,
    name        String,
    type        LowCardinality(String),        -- api_key (bedrock and vertex later)
    credentials String CODEC(NONE),            -- AES-256-GCM sealed JSON; never returned by the API
    key_hint    String,                        -- the key's last characters, to tell accounts apart
    priority    Int32 DEFAULT 0,               -- lower is preferred
    is_active   Bool DEFAULT true,
    created_at  DateTime64(3, 'UTC'),
    updated_at  DateTime64(3, 'UTC'),
    version     UInt64,
    is_deleted  UInt8 DEFAULT 0
)
ENGINE = ReplacingMergeTree(version, is_deleted)
ORDER BY id;
