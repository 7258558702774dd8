"""The emulator's account bootstrap (tools/local_aws/iam.py) against moto's IAM backend in this process."""

from __future__ import annotations

import pytest

from tools.local_aws.iam import ACCOUNT_ROLES, ensure_account_roles


@pytest.fixture()
def fresh_account(monkeypatch):
    monkeypatch.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")  # as `serve` sets it: the policies to attach
    from moto.iam.models import iam_backends  # noqa: PLC0415

    account = "210987654321"  # not moto's default account, which other tests may use
    yield account, iam_backends[account]["aws"]
    iam_backends[account].reset()


def test_creates_the_missing_roles_once_and_leaves_existing_ones(fresh_account):
    account, backend = fresh_account
    assert ensure_account_roles(account) == list(ACCOUNT_ROLES)
    arns = {name: backend.get_role(name).arn for name in ACCOUNT_ROLES}
    assert ensure_account_roles(account) == []  # idempotent: a restart or a second call changes nothing
    assert {name: backend.get_role(name).arn for name in ACCOUNT_ROLES} == arns
    for name, policy_arn in ACCOUNT_ROLES.items():
        assert list(backend.get_role(name).managed_policies) == [policy_arn]
