-- Dashboard sign-in sessions. The cookie carries a random token; only its SHA-256 is stored
-- (token_hash), so a copy of the database cannot be replayed as a session. `id` (ses_...) is the
-- public identifier that audit events and logs carry. A session ends at the first of: expires_at
-- (absolute), last_seen_at + the idle timeout, or sign-out (the row is deleted).
CREATE TABLE dashboard_sessions (
    id              TEXT PRIMARY KEY,
    token_hash      TEXT NOT NULL UNIQUE,
    account_id      TEXT NOT NULL REFERENCES accounts(id),
    csrf_token      TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    last_seen_at    BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL
);
CREATE INDEX dashboard_sessions_by_expiry ON dashboard_sessions(expires_at);
