"""The client's ledger against both databases: nothing acknowledged is missing, nothing is charged twice.

Aurora is read through the Data API (the master secret, as an operator would), the on-premises stand-in
directly as its owner. Only the rehearsal's merchants are compared (`rh-merchant-%`); the seed is not the
client's business.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tools.rehearsal.load import Acknowledged

MERCHANT_PATTERN = "rh-merchant-%"
PAGE_ROWS = 1000
COLUMNS = "id::text AS id, merchant_id, idempotency_key, amount::text AS amount, currency::text AS currency"


@dataclass(frozen=True)
class Row:
    payment_id: str
    merchant: str
    key: str
    amount: str
    currency: str


def aurora_rows(rds_data: Any, *, cluster_arn: str, secret_arn: str, database: str) -> list[Row]:
    """The rehearsal's payments in Aurora, page by page (a Data API answer is limited to 1 MB)."""
    rows: list[Row] = []
    after = "00000000-0000-0000-0000-000000000000"
    while True:
        answer = rds_data.execute_statement(
            resourceArn=cluster_arn,
            secretArn=secret_arn,
            database=database,
            formatRecordsAs="JSON",
            sql=f"SELECT {COLUMNS} FROM payments WHERE merchant_id LIKE :merchants AND id > CAST(:after AS uuid) "
            f"ORDER BY id LIMIT {PAGE_ROWS}",
            parameters=[
                {"name": "merchants", "value": {"stringValue": MERCHANT_PATTERN}},
                {"name": "after", "value": {"stringValue": after}},
            ],
        )
        page = [_row(record) for record in json.loads(answer.get("formattedRecords") or "[]")]
        rows += page
        if len(page) < PAGE_ROWS:
            return rows
        after = page[-1].payment_id


def legacy_rows(connect: Any) -> list[Row]:
    connection = connect()
    try:
        records = connection.run(
            f"SELECT {COLUMNS} FROM payments WHERE merchant_id LIKE :merchants ORDER BY id", merchants=MERCHANT_PATTERN
        )
    finally:
        connection.close()
    return [Row(*record) for record in records]


def _row(record: dict[str, Any]) -> Row:
    return Row(record["id"], record["merchant_id"], record["idempotency_key"], record["amount"], record["currency"])


def _same_amount(stored: str, sent: str) -> bool:
    return Decimal(stored) == Decimal(sent)


def missing(acknowledged: Iterable[Acknowledged], rows: Iterable[Row]) -> list[str]:
    """Acknowledged payments that are not in `rows` as acknowledged (same id, merchant, key, amount, currency)."""
    by_id = {row.payment_id: row for row in rows}
    problems = []
    for payment in acknowledged:
        row = by_id.get(payment.payment_id)
        if row is None:
            problems.append(f"{payment.payment_id} ({payment.merchant}, {payment.key}) is missing")
        elif (row.merchant, row.key, row.currency) != (
            payment.merchant,
            payment.key,
            payment.currency,
        ) or not _same_amount(row.amount, payment.amount):
            problems.append(f"{payment.payment_id} differs: stored {row}, acknowledged {payment}")
    return problems


def duplicate_charges(*databases: Iterable[Row]) -> list[str]:
    """(merchant, idempotency key) pairs that have more than one payment id across the databases."""
    return _keys_with_several_ids(row for rows in databases for row in rows)


def acknowledged_twice(ledger: Iterable[Acknowledged]) -> list[str]:
    """One (merchant, key) acknowledged with two different payment ids: a double charge the client saw."""
    return _keys_with_several_ids(ledger)


def _keys_with_several_ids(payments: Iterable[Row | Acknowledged]) -> list[str]:
    """A line "merchant / key: [ids]" for every (merchant, idempotency key) with more than one payment id."""
    ids: dict[tuple[str, str], set[str]] = defaultdict(set)
    for payment in payments:
        ids[(payment.merchant, payment.key)].add(payment.payment_id)
    return [
        f"{merchant} / {key}: {sorted(payment_ids)}"
        for (merchant, key), payment_ids in sorted(ids.items())
        if len(payment_ids) > 1
    ]
