-- The LLM router: router keys (ark_live_...) bound to one llm_router service, and the usage log.
-- Credits live in the ledger: service:<svc> holds the spendable balance, reserved:<svc> (kind
-- service_balance, so the CHECK keeps it >= 0) holds worst-case reservations of requests in flight.

CREATE TABLE router_keys (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts(id),
    agent_id        TEXT REFERENCES agents(id),
    service_id      TEXT NOT NULL REFERENCES services(id),
    label           TEXT NOT NULL,
    secret_hash     TEXT NOT NULL UNIQUE,
    created_at      BIGINT NOT NULL,
    last_used_at    BIGINT,
    revoked_at      BIGINT
);
CREATE INDEX router_keys_by_service ON router_keys(service_id, id);

-- One row per chat completion request. status: reserved (upstream call in flight; reserved_micro is
-- held in reserved:<svc>) -> settled (exactly once, guarded by a conditional update). A request
-- refused before any reservation (no credits, bad model) is logged directly as settled with cost 0.
CREATE TABLE router_requests (
    id                  TEXT PRIMARY KEY,
    account_id          TEXT NOT NULL REFERENCES accounts(id),
    service_id          TEXT NOT NULL REFERENCES services(id),
    key_id              TEXT NOT NULL,
    model               TEXT NOT NULL,
    upstream            TEXT,
    prompt_tokens       BIGINT NOT NULL DEFAULT 0,
    completion_tokens   BIGINT NOT NULL DEFAULT 0,
    reserved_micro      BIGINT NOT NULL CHECK (reserved_micro >= 0),
    cost_micro          BIGINT NOT NULL DEFAULT 0 CHECK (cost_micro >= 0),
    status              TEXT NOT NULL CHECK (status IN ('reserved', 'settled')),
    outcome             TEXT NOT NULL DEFAULT 'pending',
    latency_ms          BIGINT,
    streamed            BIGINT NOT NULL,
    created_at          BIGINT NOT NULL,
    settled_at          BIGINT
);
CREATE INDEX router_requests_by_service ON router_requests(service_id, created_at);
CREATE INDEX router_requests_open ON router_requests(status, created_at);
