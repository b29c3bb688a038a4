-- State that no read-modify-write may undo. Admin changes read a row and write it back with a newer
-- version: a change racing another (or made on a replica whose clock is behind) could write back old
-- state. So what must stick lives where such a write cannot reach it:
--   token_revocations     append-only: a token is revoked once any row exists, revoked_at is the earliest
--   account_deletions     append-only: an account is deleted once any row exists
--   account_credentials   the sealed key and its hint, written only when the key is set (and wiped on delete)
--   account_status        is_active, written only when an account is enabled or disabled
-- A rename (accounts) or a settings change (tokens) touches none of these. This migration creates the
-- tables and copies the current state into them, and 0006 drops the copied columns.
-- Each copy skips what is already there, so the migration can run again after an interruption.

CREATE TABLE IF NOT EXISTS token_revocations
(
    token_id   String,
    revoked_at DateTime64(3, 'UTC')
)
ENGINE = MergeTree
ORDER BY (token_id, revoked_at);

INSERT INTO token_revocations (token_id, revoked_at)
SELECT id, assumeNotNull(revoked_at)
FROM tokens FINAL
WHERE revoked_at IS NOT NULL
  AND id NOT IN (SELECT token_id FROM token_revocations);

CREATE TABLE IF NOT EXISTS account_deletions
(
    account_id String,
    deleted_at DateTime64(3, 'UTC')
)
ENGINE = MergeTree
ORDER BY (account_id, deleted_at);

-- Without FINAL: FINAL hides the rows whose newest version is deleted, which are the ones to copy.
INSERT INTO account_deletions (account_id, deleted_at)
SELECT id, argMax(updated_at, version)
FROM accounts
WHERE id NOT IN (SELECT account_id FROM account_deletions)
GROUP BY id
HAVING argMax(is_deleted, version) = 1;

-- The secret, in a table of its own: SQL readers (Grafana, the embedded HTTP interface) are denied this
-- table while they can still read account names from accounts.
CREATE TABLE IF NOT EXISTS account_credentials
(
    id          String,
    credentials String CODEC(NONE),            -- AES-256-GCM sealed JSON, empty once the account is deleted
    key_hint    String,                        -- the key's first and last characters, to tell keys apart
    updated_at  DateTime64(3, 'UTC'),
    version     UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY id;

INSERT INTO account_credentials (id, credentials, key_hint, updated_at, version)
SELECT id, argMax(credentials, version), argMax(key_hint, version), argMax(updated_at, version), max(version)
FROM accounts
WHERE id NOT IN (SELECT id FROM account_credentials)
GROUP BY id
HAVING argMax(is_deleted, version) = 0;

CREATE TABLE IF NOT EXISTS account_status
(
    id         String,
    is_active  Bool,
    updated_at DateTime64(3, 'UTC'),
    version    UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY id;

INSERT INTO account_status (id, is_active, updated_at, version)
SELECT id, argMax(is_active, version), argMax(updated_at, version), max(version)
FROM accounts
WHERE id NOT IN (SELECT id FROM account_status)
GROUP BY id
HAVING argMax(is_deleted, version) = 0;
