-- Payment API schema. Applied by the payment_api Lambda once per container,
-- statement by statement through the RDS Data API, before its first database
-- use. Every statement must be idempotent (IF NOT EXISTS) and free of ';'
-- except as the statement terminator.

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
