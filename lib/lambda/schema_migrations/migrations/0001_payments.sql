-- Payments, as the payment API first created them at request time (CREATE ... IF NOT EXISTS
-- adopts a database where it did). The same file builds both sides of the replication:
-- Aurora here, and the legacy stand-in of the local runtime.
CREATE TABLE IF NOT EXISTS payments (
    id              uuid          PRIMARY KEY DEFAULT gen_random_uuid(),
    idempotency_key varchar(128)  NOT NULL,
    request_hash    char(64)      NOT NULL,
    amount          numeric(18,2) NOT NULL CHECK (amount > 0),
    currency        char(3)       NOT NULL,
    merchant_id     varchar(64)   NOT NULL,
    status          varchar(32)   NOT NULL DEFAULT 'PENDING',
    created_at      timestamptz   NOT NULL DEFAULT now(),
    CONSTRAINT payments_idempotency_key_key UNIQUE (idempotency_key)
);

CREATE INDEX IF NOT EXISTS payments_merchant_created_at_idx
    ON payments (merchant_id, created_at);
