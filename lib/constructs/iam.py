"""IAM pieces every construct uses: service principals, trust policies and policy statements."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from cdktf import TerraformStack
from cdktf_cdktf_provider_aws.data_aws_service_principal import DataAwsServicePrincipal
from constructs import Construct

POLICY_VERSION = "2012-10-17"


def service_principal(scope: Construct, service: str) -> DataAwsServicePrincipal:
    """The stack's aws_service_principal data source for one service, created on first use.

    `.name` is the principal in the stack's partition (`lambda.amazonaws.com`); `.id` is the
    regional one (`logs.<region>.amazonaws.com`). The provider computes both without an API
    call, so they are known at plan time and a trust policy built from them never drifts.
    https://registry.terraform.io/providers/hashicorp/aws/latest/docs/data-sources/service_principal
    """
    stack = TerraformStack.of(scope)
    construct_id = re.sub(r"[^a-z0-9]+", "_", service.lower()) + "_principal"
    existing = stack.node.try_find_child(construct_id)
    if existing is not None:
        return existing
    return DataAwsServicePrincipal(stack, construct_id, service_name=service)


def policy_document(statements: list[dict]) -> str:
    return json.dumps({"Version": POLICY_VERSION, "Statement": statements})


def trust_policy(principal: str, condition: dict | None = None) -> str:
    """An assume-role policy that lets one AWS service principal assume the role, under `condition` when the
    service sets the keys it reads (aws:SourceAccount / aws:SourceArn against the confused deputy)."""
    statement = {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": principal}}
    if condition:
        statement["Condition"] = condition
    return policy_document([statement])


def from_account(account_id: str, source_arn: str | None = None) -> dict:
    """The confused-deputy condition: the service acts for this account (and, when given, for resources
    matching source_arn). https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html"""
    condition: dict = {"StringEquals": {"aws:SourceAccount": account_id}}
    if source_arn:
        condition["ArnLike"] = {"aws:SourceArn": source_arn}
    return condition


def allow(actions: Sequence[str] | str, resources: list[str] | str, condition: dict | None = None) -> dict:
    statement: dict[str, object] = {"Effect": "Allow", "Action": actions, "Resource": resources}
    if condition:
        statement["Condition"] = condition
    return statement
