-- Phone numbers and storage (issue 5): inbound traffic and usage of phone numbers, paid service
-- changes (top-ups, volume expansions) and object storage credentials.

-- Inbound SMS (msg_...) and calls (call_...) delivered by the telephony provider's webhook. A
-- redelivered webhook carries the same provider event id and is recorded once. price_micro is the
-- list price of the usage, cost_micro what was taken from the number's balance (less only when the
-- balance ran out: that charge emptied it); transaction_id is the `usage` ledger transaction.
CREATE TABLE phone_events (
    id                  TEXT PRIMARY KEY,
    account_id          TEXT NOT NULL REFERENCES accounts(id),
    service_id          TEXT NOT NULL REFERENCES services(id),
    kind                TEXT NOT NULL CHECK (kind IN ('sms', 'call')),
    provider_event_id   TEXT NOT NULL,
    from_number         TEXT NOT NULL,
    to_number           TEXT NOT NULL,
    body                TEXT,
    direction           TEXT NOT NULL CHECK (direction IN ('inbound')),
    status              TEXT NOT NULL CHECK (status IN ('received', 'missed', 'completed')),
    duration_seconds    BIGINT NOT NULL CHECK (duration_seconds >= 0),
    price_micro         BIGINT NOT NULL CHECK (price_micro >= 0),
    cost_micro          BIGINT NOT NULL CHECK (cost_micro >= 0 AND cost_micro <= price_micro),
    transaction_id      TEXT,
    created_at          BIGINT NOT NULL,
    UNIQUE (service_id, provider_event_id)
);
CREATE INDEX phone_events_by_service ON phone_events(service_id, kind, id);

-- Monthly rentals taken from a number's balance, one per rental period (the renewal date paid).
CREATE TABLE phone_rentals (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts(id),
    service_id      TEXT NOT NULL REFERENCES services(id),
    period_start    BIGINT NOT NULL,
    amount_micro    BIGINT NOT NULL CHECK (amount_micro > 0),
    transaction_id  TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    UNIQUE (service_id, period_start)
);

-- Paid changes to an existing service outside a purchase: phone top-ups and volume expansions. The
-- id is the id of the matching `spends` row; transaction_id the ledger transaction that paid it and
-- refund_transaction_id the one that returned it (a provider refusing an expansion).
CREATE TABLE service_payments (
    id                      TEXT PRIMARY KEY,
    account_id              TEXT NOT NULL REFERENCES accounts(id),
    agent_id                TEXT,
    service_id              TEXT NOT NULL REFERENCES services(id),
    kind                    TEXT NOT NULL CHECK (kind IN ('phone_topup', 'volume_expand')),
    amount_minor            BIGINT NOT NULL CHECK (amount_minor > 0),
    status                  TEXT NOT NULL CHECK (status IN ('captured', 'refunded')),
    transaction_id          TEXT NOT NULL,
    refund_transaction_id   TEXT,
    detail                  TEXT NOT NULL,
    created_at              BIGINT NOT NULL,
    updated_at              BIGINT NOT NULL
);
CREATE INDEX service_payments_by_service ON service_payments(service_id, id);

-- Object storage access keys. The secret is shown once; only its keyed hash is kept.
CREATE TABLE storage_credentials (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts(id),
    service_id      TEXT NOT NULL REFERENCES services(id),
    label           TEXT NOT NULL,
    access          TEXT NOT NULL CHECK (access IN ('read', 'read_write')),
    access_key_id   TEXT NOT NULL UNIQUE,
    secret_hash     TEXT NOT NULL UNIQUE,
    created_at      BIGINT NOT NULL,
    revoked_at      BIGINT
);
CREATE INDEX storage_credentials_by_service ON storage_credentials(service_id, id);

-- The worker looks for phone numbers whose rental is due on every pass, and the webhook finds a
-- number among the phone services: both read services by type first.
CREATE INDEX services_by_type_status_renewal ON services(service_type, status, renews_at);
