-- The columns 0005 copied into tables of their own. Dropping accounts.credentials leaves no secret in
-- accounts, the table dashboards read for account names. accounts.is_deleted stays (ReplacingMergeTree
-- names it), but ccproxy no longer sets it: deletions are rows of account_deletions.

ALTER TABLE accounts DROP COLUMN IF EXISTS credentials;
ALTER TABLE accounts DROP COLUMN IF EXISTS key_hint;
ALTER TABLE accounts DROP COLUMN IF EXISTS is_active;
ALTER TABLE tokens DROP COLUMN IF EXISTS revoked_at;
