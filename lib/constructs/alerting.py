"""Alert topics: `alerts` for people, `critical` for alarms that also trigger the rollback."""

from __future__ import annotations

from cdktf_cdktf_provider_aws.sns_topic import SnsTopic
from cdktf_cdktf_provider_aws.sns_topic_subscription import SnsTopicSubscription
from constructs import Construct

from lib.constructs.security_keys import SecurityKeys


class Alerting(Construct):
    """Both topics encrypted with the data key; an optional e-mail subscribed to both."""

    def __init__(self, scope: Construct, construct_id: str, *, name_prefix: str, alarm_email: str | None,
                 keys: SecurityKeys) -> None:
        super().__init__(scope, construct_id)
        self.alerts = SnsTopic(self, "alerts", name=f"{name_prefix}-alerts", kms_master_key_id=keys.data_key.arn)
        self.critical = SnsTopic(self, "critical", name=f"{name_prefix}-critical",
                                 kms_master_key_id=keys.data_key.arn)
        if alarm_email:
            for topic_id, topic in (("alerts", self.alerts), ("critical", self.critical)):
                SnsTopicSubscription(self, f"{topic_id}_email", topic_arn=topic.arn, protocol="email",
                                     endpoint=alarm_email)
