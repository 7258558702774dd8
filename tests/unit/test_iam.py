"""lib/constructs/iam.py: service principals from the data source, one trust policy, one statement shape."""

import json

from cdktf import Testing
from cdktf_cdktf_provider_aws.data_aws_service_principal import DataAwsServicePrincipal

from lib.constructs.iam import allow, policy_document, service_principal, trust_policy
from tests.unit.stacks import bare_stack, synth


def test_one_principal_data_source_per_service_and_stack():
    stack = bare_stack()
    lambda_principal = service_principal(stack, "lambda")
    assert isinstance(lambda_principal, DataAwsServicePrincipal)
    assert service_principal(stack, "lambda") is lambda_principal
    assert service_principal(stack, "logdelivery.elasticloadbalancing") is not lambda_principal
    synthesized = Testing.synth(stack)
    assert Testing.to_have_data_source_with_properties(
        synthesized, DataAwsServicePrincipal.TF_RESOURCE_TYPE, {"service_name": "lambda"}
    )
    assert sorted(synth(stack).data("aws_service_principal")) == [
        "lambda_principal",
        "logdelivery_elasticloadbalancing_principal",
    ]


def test_trust_policy_lets_one_service_assume_the_role():
    assert json.loads(trust_policy("vpc-flow-logs.amazonaws.com")) == {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "vpc-flow-logs.amazonaws.com"}}
        ],
    }


def test_allow_statements_carry_a_condition_only_when_given():
    assert allow(["sns:Publish"], "arn:topic") == {
        "Effect": "Allow",
        "Action": ["sns:Publish"],
        "Resource": "arn:topic",
    }
    condition = {"StringEquals": {"cloudwatch:namespace": "ns"}}
    assert allow(["cloudwatch:PutMetricData"], "*", condition)["Condition"] == condition
    assert json.loads(policy_document([allow("kms:Decrypt", "arn:key")])) == {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "arn:key"}],
    }
