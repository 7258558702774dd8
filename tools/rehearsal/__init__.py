"""The cutover rehearsal (`make rehearse`): the whole migration on one machine, measured for lost and
doubled payments.

1. deployment.py: a fresh deployment on its own emulator, or (inside `make test`) e2e's.
2. drive.py: the runbook's first steps as an operator takes them: the DMS endpoint secrets, forward
   replication, the validator's READY (its schedule fired through the emulator's control endpoint).
3. legacy.py: the legacy system's stand-in, the payment API's own code on the on-premises database,
   served on 127.0.0.1; the ALB's legacy IP target and the clients' DNS answers map to it.
4. load.py + resolver.py: clients resolving the API name through Route53's weights with a short TTL,
   sending payments with idempotency keys, retrying 503 + Retry-After and connection errors, reading back.
5. run.py: while the load runs, the deployed cutover driver (traffic_shifter) takes the read-canary steps
   and the writer flip; then a critical alarm's notification lets the deployed rollback run.
6. ledger.py + report.py: the acknowledged payments against both databases after each flip and at the end;
   the figures, rehearsal/report.md and its chart. The exit code is non-zero when an invariant fails.
"""
