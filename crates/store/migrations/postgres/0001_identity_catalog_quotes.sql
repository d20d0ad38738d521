-- Identity and quotes: accounts, their agents, credentials (agent keys and account tokens), and quotes.
-- Conventions (shared with the PostgreSQL folder): TEXT ids with a type prefix, BIGINT epoch-millisecond
-- timestamps, TEXT JSON documents, 0/1 BIGINT flags. Only hashes of credential secrets are stored.

CREATE TABLE accounts (
    id              TEXT PRIMARY KEY,
    email           TEXT NOT NULL UNIQUE,
    name            TEXT NOT NULL,
    password_hash   TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

CREATE TABLE agents (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts(id),
    name            TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('active', 'suspended')),
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX agents_by_account ON agents(account_id, id);

-- One table for both agent API keys (agent_id set) and account tokens (agent_id NULL).
CREATE TABLE credentials (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL CHECK (kind IN ('agent_key', 'account_token')),
    account_id      TEXT NOT NULL REFERENCES accounts(id),
    agent_id        TEXT REFERENCES agents(id),
    label           TEXT NOT NULL,
    secret_hash     TEXT NOT NULL UNIQUE,
    created_at      BIGINT NOT NULL,
    last_used_at    BIGINT,
    expires_at      BIGINT,
    revoked_at      BIGINT,
    CHECK ((kind = 'agent_key') = (agent_id IS NOT NULL))
);
CREATE INDEX credentials_by_agent ON credentials(agent_id, id);
CREATE INDEX credentials_by_account ON credentials(account_id, kind, id);

-- A quote belongs to one actor: an agent (agent_id set) or the account itself (dashboard checkout).
CREATE TABLE quotes (
    id                  TEXT PRIMARY KEY,
    account_id          TEXT NOT NULL REFERENCES accounts(id),
    agent_id            TEXT REFERENCES agents(id),
    catalog_item_id     TEXT NOT NULL,
    quantity            BIGINT NOT NULL CHECK (quantity BETWEEN 1 AND 10),
    unit_price_minor    BIGINT NOT NULL CHECK (unit_price_minor >= 0),
    total_price_minor   BIGINT NOT NULL CHECK (total_price_minor >= 0),
    currency            TEXT NOT NULL,
    display_name        TEXT NOT NULL,
    configuration       TEXT NOT NULL,
    quote_details       TEXT NOT NULL,
    capabilities        TEXT NOT NULL,
    domain_name         TEXT,
    status              TEXT NOT NULL CHECK (status IN ('open', 'used')),
    expires_at          BIGINT NOT NULL,
    created_at          BIGINT NOT NULL,
    used_at             BIGINT
);
CREATE INDEX quotes_by_actor ON quotes(account_id, agent_id, id);
