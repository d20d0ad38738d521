-- The money path: a double-entry ledger, spends counted by policies, purchases with approvals,
-- services, a durable jobs queue, idempotency records, policy layers and the audit log.
-- Amounts in the ledger are micro-dollars (1 cent = 10000), so router usage metered in micro-dollars
-- and wallet movements in cents share one balanced ledger with no rounding.

-- One row per ledger account. Customer money: wallet:<acct> (available), held:<acct> (held for pending
-- approvals), service:<svc> (a service's prepaid balance). Platform: revenue, funding:<provider>.
CREATE TABLE ledger_accounts (
    id              TEXT PRIMARY KEY,
    account_id      TEXT REFERENCES accounts(id),
    kind            TEXT NOT NULL CHECK (kind IN ('wallet', 'held', 'service_balance', 'revenue', 'funding_source')),
    balance_micro   BIGINT NOT NULL DEFAULT 0,
    updated_at      BIGINT NOT NULL,
    -- Customer balances can never go negative; the platform's revenue and funding sources can.
    CHECK (kind IN ('revenue', 'funding_source') OR balance_micro >= 0)
);

INSERT INTO ledger_accounts (id, account_id, kind, balance_micro, updated_at) VALUES ('revenue', NULL, 'revenue', 0, 0);
INSERT INTO ledger_accounts (id, account_id, kind, balance_micro, updated_at)
    VALUES ('funding:sandbox', NULL, 'funding_source', 0, 0);
INSERT INTO ledger_accounts (id, account_id, kind, balance_micro, updated_at)
    SELECT 'wallet:' || id, id, 'wallet', 0, created_at FROM accounts;
INSERT INTO ledger_accounts (id, account_id, kind, balance_micro, updated_at)
    SELECT 'held:' || id, id, 'held', 0, created_at FROM accounts;

-- A balanced set of entries. The *_change/_after columns describe the effect on the owning account's
-- wallet (available and held) for the transaction listings; entries are the source of truth.
CREATE TABLE ledger_transactions (
    id                      TEXT PRIMARY KEY,
    account_id              TEXT NOT NULL REFERENCES accounts(id),
    type                    TEXT NOT NULL CHECK (type IN ('funding', 'hold', 'hold_release', 'capture', 'refund',
                                                          'service_topup', 'usage', 'adjustment')),
    purchase_id             TEXT,
    service_id              TEXT,
    agent_id                TEXT,
    description             TEXT NOT NULL,
    available_change_micro  BIGINT NOT NULL,
    held_change_micro       BIGINT NOT NULL,
    available_after_micro   BIGINT NOT NULL,
    held_after_micro        BIGINT NOT NULL,
    created_at              BIGINT NOT NULL
);
CREATE INDEX ledger_transactions_by_account ON ledger_transactions(account_id, id);
CREATE INDEX ledger_transactions_by_agent ON ledger_transactions(account_id, agent_id, id);
CREATE INDEX ledger_transactions_by_purchase ON ledger_transactions(purchase_id);

-- Append-only: never updated or deleted; corrections are new transactions.
CREATE TABLE ledger_entries (
    transaction_id      TEXT NOT NULL REFERENCES ledger_transactions(id),
    ledger_account_id   TEXT NOT NULL REFERENCES ledger_accounts(id),
    amount_micro        BIGINT NOT NULL CHECK (amount_micro <> 0),
    balance_after_micro BIGINT NOT NULL,
    created_at          BIGINT NOT NULL,
    PRIMARY KEY (transaction_id, ledger_account_id)
);
CREATE INDEX ledger_entries_by_account ON ledger_entries(ledger_account_id);

-- Spend as policies count it: purchases, top-ups and expansions, held or captured, per actor.
CREATE TABLE spends (
    id                  TEXT PRIMARY KEY,
    account_id          TEXT NOT NULL REFERENCES accounts(id),
    agent_id            TEXT,
    key_id              TEXT,
    purchase_id         TEXT,
    service_id          TEXT,
    category            TEXT NOT NULL,
    catalog_item_id     TEXT NOT NULL,
    amount_minor        BIGINT NOT NULL CHECK (amount_minor >= 0),
    counts_as_purchase  BIGINT NOT NULL,
    status              TEXT NOT NULL CHECK (status IN ('held', 'captured', 'released', 'refunded')),
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);
CREATE INDEX spends_window ON spends(account_id, created_at);
CREATE INDEX spends_by_purchase ON spends(purchase_id);

CREATE TABLE purchases (
    id                  TEXT PRIMARY KEY,
    account_id          TEXT NOT NULL REFERENCES accounts(id),
    agent_id            TEXT REFERENCES agents(id),
    key_id              TEXT,
    quote_id            TEXT NOT NULL REFERENCES quotes(id),
    catalog_item_id     TEXT NOT NULL,
    category            TEXT NOT NULL,
    service_type        TEXT NOT NULL,
    quantity            BIGINT NOT NULL,
    total_price_minor   BIGINT NOT NULL CHECK (total_price_minor >= 0),
    currency            TEXT NOT NULL,
    display_name        TEXT NOT NULL,
    configuration       TEXT NOT NULL,
    quote_details       TEXT NOT NULL,
    domain_name         TEXT,
    top_up_service_id   TEXT,
    status              TEXT NOT NULL CHECK (status IN ('pending_approval', 'provisioning', 'completed', 'failed',
                                                        'rejected', 'expired', 'canceled')),
    approval_required   BIGINT NOT NULL,
    approval_status     TEXT NOT NULL CHECK (approval_status IN ('not_required', 'pending', 'approved', 'rejected',
                                                                 'expired', 'canceled')),
    approval_reasons    TEXT NOT NULL,
    approval_expires_at BIGINT,
    decided_at          BIGINT,
    decided_by          TEXT,
    decision_reason     TEXT,
    failure_reason      TEXT,
    idempotency_key     TEXT,
    note                TEXT,
    service_ids         TEXT NOT NULL,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);
CREATE INDEX purchases_by_account ON purchases(account_id, id);
CREATE INDEX purchases_by_agent ON purchases(account_id, agent_id, id);
CREATE INDEX purchases_pending ON purchases(status, approval_expires_at);
-- A domain can be in at most one live purchase: registered names are unavailable.
CREATE UNIQUE INDEX purchases_live_domain ON purchases(domain_name)
    WHERE domain_name IS NOT NULL AND status IN ('pending_approval', 'provisioning', 'completed');

CREATE TABLE services (
    id                  TEXT PRIMARY KEY,
    account_id          TEXT NOT NULL REFERENCES accounts(id),
    agent_id            TEXT REFERENCES agents(id),
    purchase_id         TEXT NOT NULL REFERENCES purchases(id),
    catalog_item_id     TEXT NOT NULL,
    service_type        TEXT NOT NULL,
    status              TEXT NOT NULL CHECK (status IN ('provisioning', 'active', 'suspended', 'failed', 'terminated')),
    display_name        TEXT NOT NULL,
    configuration       TEXT NOT NULL,
    capabilities        TEXT NOT NULL,
    details             TEXT NOT NULL,
    provider_ref        TEXT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    renews_at           BIGINT,
    expires_at          BIGINT
);
CREATE INDEX services_by_agent ON services(account_id, agent_id, id);
CREATE INDEX services_by_purchase ON services(purchase_id);

-- Durable work: claimed with a lease, retried with backoff, resumed after a restart.
CREATE TABLE jobs (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    subject_id  TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed')),
    attempts    BIGINT NOT NULL,
    run_at      BIGINT NOT NULL,
    lease_until BIGINT,
    last_error  TEXT,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX jobs_ready ON jobs(status, run_at);
CREATE UNIQUE INDEX jobs_one_per_subject ON jobs(kind, subject_id);

-- The first response to a request with an idempotency key, stored with its effects.
CREATE TABLE idempotency_keys (
    scope           TEXT NOT NULL,
    idem_key        TEXT NOT NULL,
    request_hash    TEXT NOT NULL,
    response_status BIGINT NOT NULL,
    response_body   TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    PRIMARY KEY (scope, idem_key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys(expires_at);

-- Policy layers set by the account: its own ('account', subject ''), per agent, per key.
CREATE TABLE policies (
    account_id  TEXT NOT NULL REFERENCES accounts(id),
    layer       TEXT NOT NULL CHECK (layer IN ('account', 'agent', 'key')),
    subject_id  TEXT NOT NULL,
    policy      TEXT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (account_id, layer, subject_id)
);

CREATE TABLE audit_events (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL,
    actor_type      TEXT NOT NULL,
    actor_id        TEXT NOT NULL,
    credential_id   TEXT,
    action          TEXT NOT NULL,
    object_type     TEXT NOT NULL,
    object_id       TEXT NOT NULL,
    before_status   TEXT,
    after_status    TEXT,
    details         TEXT NOT NULL,
    request_id      TEXT,
    created_at      BIGINT NOT NULL
);
CREATE INDEX audit_events_by_account ON audit_events(account_id, id);
