"""Alert topics: `alerts` for people, `critical` for alarms that also trigger the rollback."""

from __future__ import annotations

from cdktf_cdktf_provider_aws.sns_topic import SnsTopic
from cdktf_cdktf_provider_aws.sns_topic_policy import SnsTopicPolicy
from cdktf_cdktf_provider_aws.sns_topic_subscription import SnsTopicSubscription
from constructs import Construct

from lib.constructs.iam import from_account, policy_document, service_principal
from lib.constructs.security_keys import SecurityKeys

# The AWS services that publish to each topic: CloudWatch alarms to both, DMS event subscriptions to `alerts`.
# Each is named on its topic's policy and, because the topics are encrypted, on the data key's policy.
TOPIC_PUBLISHERS = {"alerts": ("cloudwatch", "dms"), "critical": ("cloudwatch",)}
ALL_TOPIC_PUBLISHERS = tuple(sorted({service for services in TOPIC_PUBLISHERS.values() for service in services}))
# What the account's own principals may do: the statement SNS writes into every new topic's default policy
# (https://docs.aws.amazon.com/sns/latest/dg/sns-access-policy-use-cases.html). An explicit policy replaces
# the default one, so it keeps this statement.
OWNER_ACTIONS = [
    "SNS:GetTopicAttributes",
    "SNS:SetTopicAttributes",
    "SNS:AddPermission",
    "SNS:RemovePermission",
    "SNS:DeleteTopic",
    "SNS:Subscribe",
    "SNS:ListSubscriptionsByTopic",
    "SNS:Publish",
]


class Alerting(Construct):
    """Both topics encrypted with the data key, each with an explicit policy naming its publishers; an optional
    e-mail subscribed to both."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name_prefix: str,
        alarm_email: str | None,
        account_id: str,
        partition: str,
        region: str,
        keys: SecurityKeys,
    ) -> None:
        super().__init__(scope, construct_id)
        self._account_id, self._partition, self._region = account_id, partition, region
        self.alerts = SnsTopic(self, "alerts", name=f"{name_prefix}-alerts", kms_master_key_id=keys.data_key.arn)
        self.critical = SnsTopic(self, "critical", name=f"{name_prefix}-critical", kms_master_key_id=keys.data_key.arn)
        topics = {"alerts": self.alerts, "critical": self.critical}
        self.topic_policies = {topic_id: self._policy(topic_id, topic) for topic_id, topic in topics.items()}
        if alarm_email:
            for topic_id, topic in topics.items():
                SnsTopicSubscription(
                    self,
                    f"{topic_id}_email",
                    topic_arn=topic.arn,
                    protocol="email",
                    endpoint=alarm_email,
                    depends_on=[self.topic_policies[topic_id]],
                )

    @property
    def policies(self) -> list[SnsTopicPolicy]:
        """What a publisher (alarm, event subscription, subscription) is created after."""
        return list(self.topic_policies.values())

    def _policy(self, topic_id: str, topic: SnsTopic) -> SnsTopicPolicy:
        statements = [
            {
                "Sid": "OwnerAccountUsesTopic",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": OWNER_ACTIONS,
                "Resource": topic.arn,
                "Condition": {"StringEquals": {"AWS:SourceOwner": self._account_id}},
            }
        ]
        statements += [
            {
                "Sid": f"{service.capitalize()}Publishes",
                "Effect": "Allow",
                "Principal": {"Service": service_principal(self, service).name},
                "Action": "sns:Publish",
                "Resource": topic.arn,
                "Condition": self._publisher_condition(service),
            }
            for service in TOPIC_PUBLISHERS[topic_id]
        ]
        return SnsTopicPolicy(self, f"{topic_id}_policy", arn=topic.arn, policy=policy_document(statements))

    def _publisher_condition(self, service: str) -> dict:
        # CloudWatch names the alarm as aws:SourceArn (Amazon CloudWatch user guide, "Preventing confused deputy
        # security issues"); DMS events carry the account only.
        if service == "cloudwatch":
            return from_account(
                self._account_id, f"arn:{self._partition}:cloudwatch:{self._region}:{self._account_id}:alarm:*"
            )
        return from_account(self._account_id)
