-- Router credit leases (issue 8). A server process moves a chunk of an llm_router service's credits
-- from service:<svc> into reserved:<svc> in one transaction and records it here; it then meters
-- requests against the chunk in memory and, in batches, writes their usage rows and charges them to
-- revenue out of the lease (amount_micro goes down by what was charged). An idle lease is closed by its
-- holder and what is left returns to service:<svc>; a lease whose holder stopped heart-beating (a
-- crash) is closed the same way by any process's sweeper. So at every commit:
--   balance(reserved:<svc>) = sum of open leases' amount_micro + reservations of 'reserved' requests.
CREATE TABLE router_leases (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts(id),
    service_id      TEXT NOT NULL REFERENCES services(id),
    holder          TEXT NOT NULL,
    amount_micro    BIGINT NOT NULL CHECK (amount_micro >= 0),
    status          TEXT NOT NULL CHECK (status IN ('open', 'closed')),
    created_at      BIGINT NOT NULL,
    heartbeat_at    BIGINT NOT NULL,
    closed_at       BIGINT
);
CREATE INDEX router_leases_open ON router_leases(status, heartbeat_at);
CREATE INDEX router_leases_by_holder ON router_leases(holder, status);
