-- Domain and server management (issue 5): DNS records of domain services, and server operations
-- (restart, reinstall, power) that settle through the jobs queue.

-- The DNS records of a domain service. This table is the zone of record; the registrar is told about
-- each change before it is written here. match_value is the upsert key's value part: the value for
-- MX/TXT/NS/SRV/CAA (several records per name, told apart by value), '' for A/AAAA/CNAME (one record
-- of the type per name), so a retried upsert replaces instead of duplicating.
CREATE TABLE dns_records (
    id          TEXT PRIMARY KEY,
    service_id  TEXT NOT NULL REFERENCES services(id),
    account_id  TEXT NOT NULL REFERENCES accounts(id),
    record_type TEXT NOT NULL CHECK (record_type IN ('A', 'AAAA', 'CNAME', 'MX', 'TXT', 'NS', 'SRV', 'CAA')),
    name        TEXT NOT NULL,
    value       TEXT NOT NULL,
    match_value TEXT NOT NULL,
    ttl         BIGINT NOT NULL CHECK (ttl BETWEEN 60 AND 86400),
    priority    BIGINT CHECK (priority IS NULL OR priority BETWEEN 0 AND 65535),
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE UNIQUE INDEX dns_records_upsert_key ON dns_records(service_id, record_type, name, match_value);
CREATE INDEX dns_records_by_service ON dns_records(service_id, id);

-- One row per server action. A pending operation holds the server in a transitional power state
-- (restarting, reinstalling, stopping, starting) until its job settles it; at most one is pending per
-- server, which the partial unique index enforces on every node.
CREATE TABLE server_operations (
    id                   TEXT PRIMARY KEY,
    service_id           TEXT NOT NULL REFERENCES services(id),
    account_id           TEXT NOT NULL REFERENCES accounts(id),
    action               TEXT NOT NULL CHECK (action IN ('restart', 'reinstall', 'power_on', 'power_off')),
    image                TEXT,
    previous_power_state TEXT NOT NULL,
    status               TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    error                TEXT,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL
);
CREATE UNIQUE INDEX server_operations_one_pending ON server_operations(service_id) WHERE status = 'pending';
CREATE INDEX server_operations_by_service ON server_operations(service_id, id);
