"""The emulator's account as a real one is: it already has what belongs to the account, not to a stack.

DMS finds `dms-vpc-role` and `dms-cloudwatch-logs-role` by those exact names, one of each per account.
A real account that has used DMS has them; a fresh moto account has nothing. When each stack created
them, the second suffix on one emulator failed with `EntityAlreadyExists: dms-vpc-role`. So the
emulator creates them once, at start, like the account they stand for; stacks never do
(CREATE_DMS_SERVICE_ROLES defaults to false).
"""

from __future__ import annotations

import json
from typing import Any

from tools.local_aws.control import DEFAULT_ACCOUNT
from tools.local_aws.moto_guard import CLASS, moto_uses

PARTITION = "aws"
DMS_PRINCIPAL = "dms.amazonaws.com"
# Role name -> the AWS managed policy DMS expects on it (DMS user guide, "Creating the IAM roles to use
# with AWS DMS": https://docs.aws.amazon.com/dms/latest/userguide/security-iam.html#CHAP_Security.APIRole).
ACCOUNT_ROLES = {
    "dms-vpc-role": "arn:aws:iam::aws:policy/service-role/AmazonDMSVPCManagementRole",
    "dms-cloudwatch-logs-role": "arn:aws:iam::aws:policy/service-role/AmazonDMSCloudWatchLogsRole",
}

USES = moto_uses(
    "iam_account_roles",
    {
        "moto.iam.models.iam_backends": (),
        "moto.iam.models.IAMBackend.create_role": (
            "role_name",
            "assume_role_policy_document",
            "path",
            "permissions_boundary",
            "description",
            "tags",
            "max_session_duration",
        ),
        "moto.iam.models.IAMBackend.attach_role_policy": ("policy_arn", "role_name"),
        "moto.iam.models.IAMBackend.get_role": ("role_name",),
        "moto.iam.exceptions.NotFoundException": CLASS,
    },
)


def _dms_trust() -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": DMS_PRINCIPAL}, "Action": "sts:AssumeRole"}],
        }
    )


def ensure_account_roles(account_id: str = DEFAULT_ACCOUNT) -> list[str]:
    """Creates the account-wide roles that are missing, with their managed policies; returns their names.

    Idempotent: a role that exists is left as it is."""
    from moto.iam.exceptions import NotFoundException
    from moto.iam.models import iam_backends

    backend: Any = iam_backends[account_id][PARTITION]
    created = []
    for name, policy_arn in ACCOUNT_ROLES.items():
        try:
            backend.get_role(name)
            continue
        except NotFoundException:
            pass
        backend.create_role(
            role_name=name,
            assume_role_policy_document=_dms_trust(),
            path="/",
            permissions_boundary=None,
            description="Account-wide DMS service role (the emulator's account starts with it)",
            tags=[],
            max_session_duration=None,
        )
        backend.attach_role_policy(policy_arn, name)
        created.append(name)
    return created


PATCHES = (USES,)
