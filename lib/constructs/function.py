"""One Lambda function as every function of the stack runs: packaged, logged, placed and least-privileged."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TypedDict

from cdktf import AssetType, ITerraformDependable, TerraformAsset
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.lambda_function import LambdaFunction
from cdktf_cdktf_provider_aws.lambda_permission import LambdaPermission
from constructs import Construct

from lib.constructs.alerting import Alerting
from lib.constructs.iam import allow, policy_document, service_principal, trust_policy
from lib.constructs.network import Network
from lib.constructs.security_groups import SecurityGroups
from lib.constructs.security_keys import SecurityKeys, encrypted_log_group
from lib.packaging import build_package

LAMBDA_SOURCE_ROOT = Path(__file__).resolve().parent.parent / "lambda"
BUILD_DIR = Path(__file__).resolve().parents[2] / "build" / "lambda"
RUNTIME = "python3.12"
# IAM actions Lambda performs for every function, named by why (tests/unit/test_iam_least_privilege.py
# allows these and the calls each handler makes, nothing else):
SERVICE_NEEDS = {
    # the runtime writes the function's log lines
    "logs": ("logs:CreateLogStream", "logs:PutLogEvents"),
    # a function in a VPC reaches it through network interfaces Lambda creates with the function's role
    # (what the AWS managed AWSLambdaVPCAccessExecutionRole grants, ec2:DescribeSubnets included)
    "network interfaces": (
        "ec2:CreateNetworkInterface",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeSubnets",
        "ec2:DeleteNetworkInterface",
        "ec2:AssignPrivateIpAddresses",
        "ec2:UnassignPrivateIpAddresses",
    ),
    # active tracing sends segments
    "X-Ray": ("xray:PutTraceSegments", "xray:PutTelemetryRecords"),
    # failed asynchronous invocations go to the dead-letter topic
    "dead-letter topic": ("sns:Publish",),
    # the data key encrypts the environment, the secrets and the topics: decrypt to read, a data key to write
    "KMS": ("kms:Decrypt", "kms:GenerateDataKey"),
}


class FunctionPlacement(TypedDict):
    """Where a construct's functions run and report: Compute and Cutover take it as `**placement` and pass it
    on to each of their functions."""

    name_prefix: str
    log_retention_days: int
    network: Network
    security_groups: SecurityGroups
    keys: SecurityKeys
    alerting: Alerting


class FunctionLimits(TypedDict, total=False):
    """A function's own limits; PaymentsFunction's defaults apply to those left out."""

    reserved_concurrency: int | None
    timeout_seconds: int
    memory_mb: int


class PaymentsFunction(Construct):
    """lib/lambda/<source> as a function in the private subnets, with its own log group and role.

    Failed asynchronous invocations go to the alerts topic; logs, environment and messages are
    encrypted with the stack's keys.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name_prefix: str,
        source: str,
        description: str,
        environment: dict[str, str],
        statements: list[dict],
        reserved_concurrency: int | None = 2,
        timeout_seconds: int = 30,
        memory_mb: int = 256,
        log_retention_days: int,
        network: Network,
        security_groups: SecurityGroups,
        keys: SecurityKeys,
        alerting: Alerting,
        depends_on: Sequence[ITerraformDependable] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        self.source = source
        self.short_name = source.replace("_", "-")
        self.name = f"{name_prefix}-{self.short_name}"
        package = build_package(LAMBDA_SOURCE_ROOT / source, BUILD_DIR)
        asset = TerraformAsset(self, "package", path=str(package.path), type=AssetType.FILE)
        self.log_group = encrypted_log_group(
            self, "log_group", name=f"/aws/lambda/{self.name}", retention_days=log_retention_days, keys=keys
        )
        role = IamRole(
            self,
            "role",
            name=self.name,
            description=f"Runs {self.name}",
            assume_role_policy=trust_policy(service_principal(self, "lambda").name),
        )
        failure_topic_arn = alerting.alerts.arn
        # What Lambda needs on the function's behalf, whatever its code does (SERVICE_NEEDS).
        base_statements = [
            allow(["logs:CreateLogStream", "logs:PutLogEvents"], f"{self.log_group.arn}:*"),
            # ENI management and X-Ray segments have no resource-level permissions.
            allow([*SERVICE_NEEDS["network interfaces"], *SERVICE_NEEDS["X-Ray"]], "*"),
            allow(SERVICE_NEEDS["dead-letter topic"], failure_topic_arn),
            allow(SERVICE_NEEDS["KMS"], keys.data_key.arn),
        ]
        policy = IamRolePolicy(
            self, "policy", role=role.id, name="least-privilege", policy=policy_document(base_statements + statements)
        )
        self.function = LambdaFunction(
            self,
            "function",
            function_name=self.name,
            description=description,
            role=role.arn,
            runtime=RUNTIME,
            handler="handler.handler",
            filename=asset.path,
            source_code_hash=package.sha256_base64,
            timeout=timeout_seconds,
            memory_size=memory_mb,
            reserved_concurrent_executions=reserved_concurrency,
            kms_key_arn=keys.data_key.arn,
            environment={"variables": dict(sorted(environment.items()))},
            vpc_config={
                "subnet_ids": network.private_subnet_ids,
                "security_group_ids": [security_groups.lambda_functions.id],
            },
            tracing_config={"mode": "Active"},
            dead_letter_config={"target_arn": failure_topic_arn},
            depends_on=[self.log_group, policy, *depends_on],
        )

    @property
    def arn(self) -> str:
        return self.function.arn

    def invoke_permission(
        self, scope: Construct, construct_id: str, *, statement_id: str, service: str, source_arn: str
    ) -> LambdaPermission:
        """Lets one AWS service invoke the function for one source (a target group, topic or rule), in the
        construct that connects that source to the function."""
        return LambdaPermission(
            scope,
            construct_id,
            statement_id=statement_id,
            action="lambda:InvokeFunction",
            function_name=self.function.function_name,
            principal=service_principal(scope, service).name,
            source_arn=source_arn,
        )
