"""Customer-managed KMS keys: one for data at rest, one for CloudWatch Logs (and the log groups under it)."""

from __future__ import annotations

from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.kms_alias import KmsAlias
from cdktf_cdktf_provider_aws.kms_key import KmsKey
from constructs import Construct

from lib.constructs.iam import policy_document, service_principal

KEY_USE_ACTIONS = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
# What a service needs on the key of an encrypted SNS topic it publishes to, and no more.
# https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html
# ("Enable compatibility between event sources from AWS services and encrypted topics")
TOPIC_PUBLISHER_ACTIONS = ["kms:GenerateDataKey*", "kms:Decrypt"]


def _account_administers_key(*, account_id: str, partition: str) -> dict:
    return {
        "Sid": "AccountAdministersKey",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:{partition}:iam::{account_id}:root"},
        "Action": "kms:*",
        "Resource": "*",
    }


def _service_uses_key(sid: str, principal: str, condition: dict, actions: list[str] = KEY_USE_ACTIONS) -> dict:
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"Service": principal},
        "Action": actions,
        "Resource": "*",
        "Condition": condition,
    }


def logs_key_policy(*, account_id: str, partition: str, region: str, logs_principal: str) -> str:
    """Lets CloudWatch Logs in this account and region encrypt log groups with the key."""
    log_arns = f"arn:{partition}:logs:{region}:{account_id}:*"
    return policy_document(
        [
            _account_administers_key(account_id=account_id, partition=partition),
            _service_uses_key(
                "CloudWatchLogsUseKey", logs_principal, {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": log_arns}}
            ),
        ]
    )


def publisher_sid(service: str) -> str:
    """`cloudwatch` -> `CloudwatchPublishesToEncryptedTopics`: one statement per publishing service."""
    return "".join(part.capitalize() for part in service.replace(".", "-").split("-")) + "PublishesToEncryptedTopics"


def data_key_policy(*, account_id: str, partition: str, topic_publishers: dict[str, str]) -> str:
    """IAM-delegated use for RDS, DMS, Secrets Manager and the functions; every service that publishes to a
    topic encrypted with the key ({service: principal}) may make and read the topic's data keys, for this
    account only (aws:SourceAccount)."""
    return policy_document(
        [
            _account_administers_key(account_id=account_id, partition=partition),
            *(
                _service_uses_key(
                    publisher_sid(service),
                    principal,
                    {"StringEquals": {"aws:SourceAccount": account_id}},
                    TOPIC_PUBLISHER_ACTIONS,
                )
                for service, principal in topic_publishers.items()
            ),
        ]
    )


class SecurityKeys(Construct):
    """A key for data at rest (Aurora, secrets, DMS, SNS, Lambda environment) and one for logs."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name_prefix: str,
        account_id: str,
        partition: str,
        region: str,
        deletion_window_days: int,
        topic_publishers: tuple[str, ...],
    ) -> None:
        super().__init__(scope, construct_id)
        self._name_prefix = name_prefix
        self._deletion_window_days = deletion_window_days
        self.data_key = self._key(
            "data",
            f"{name_prefix} data at rest",
            data_key_policy(
                account_id=account_id,
                partition=partition,
                topic_publishers={service: service_principal(self, service).name for service in topic_publishers},
            ),
        )
        # CloudWatch Logs needs its regional principal in key policies.
        self.logs_key = self._key(
            "logs",
            f"{name_prefix} CloudWatch Logs",
            logs_key_policy(
                account_id=account_id,
                partition=partition,
                region=region,
                logs_principal=service_principal(self, "logs").id,
            ),
        )

    def _key(self, purpose: str, description: str, policy: str) -> KmsKey:
        key = KmsKey(
            self,
            f"{purpose}_key",
            description=description,
            enable_key_rotation=True,
            deletion_window_in_days=self._deletion_window_days,
            policy=policy,
            tags={"Name": f"{self._name_prefix}-{purpose}"},
        )
        KmsAlias(self, f"{purpose}_alias", name=f"alias/{self._name_prefix}-{purpose}", target_key_id=key.key_id)
        return key


def encrypted_log_group(
    scope: Construct, construct_id: str, *, name: str, retention_days: int, keys: SecurityKeys
) -> CloudwatchLogGroup:
    """A log group as the stack makes every one: created before the service that writes to it would create it
    (unencrypted, kept forever), encrypted with the logs key and kept retention_days."""
    return CloudwatchLogGroup(
        scope, construct_id, name=name, retention_in_days=retention_days, kms_key_id=keys.logs_key.arn
    )
