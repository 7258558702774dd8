-- Idempotency keys are scoped per merchant: two merchants may use the same key, and a retry
-- is recognised by (merchant_id, idempotency_key) on both sides of the replication.
ALTER TABLE payments
    ADD CONSTRAINT payments_merchant_idempotency_key_key UNIQUE (merchant_id, idempotency_key);

ALTER TABLE payments DROP CONSTRAINT payments_idempotency_key_key;
