"""Alerting alone: two topics under the data key, each with a policy naming its publishers; an e-mail on both
only when one is given."""

import json

import pytest
from cdktf import Testing
from cdktf_cdktf_provider_aws.sns_topic import SnsTopic
from cdktf_cdktf_provider_aws.sns_topic_subscription import SnsTopicSubscription

from lib.constructs.alerting import ALL_TOPIC_PUBLISHERS, TOPIC_PUBLISHERS
from tests.unit.stacks import ACCOUNT_ID, declare_varying

VARIANTS = declare_varying(
    "alerting", {"with_email": {"alarm_email": "oncall@example.com"}, "no_email": {"alarm_email": None}}
)


@pytest.fixture(scope="module")
def variants(construct_variants):
    return construct_variants.views[VARIANTS]


@pytest.fixture(scope="module")
def with_email(variants):
    return variants["with_email"]


def test_both_topics_are_encrypted_with_the_data_key(with_email):
    built, synthesized = with_email
    for name in ("payments-test-alerts", "payments-test-critical"):
        assert Testing.to_have_resource_with_properties(
            synthesized.text,
            SnsTopic.TF_RESOURCE_TYPE,
            {"name": name, "kms_master_key_id": synthesized.ref(built.keys.data_key.arn)},
        )


def test_the_email_is_subscribed_to_both_topics(with_email):
    built, synthesized = with_email
    for topic in (built.alerting.alerts, built.alerting.critical):
        assert Testing.to_have_resource_with_properties(
            synthesized.text,
            SnsTopicSubscription.TF_RESOURCE_TYPE,
            {"topic_arn": synthesized.ref(topic.arn), "protocol": "email", "endpoint": "oncall@example.com"},
        )


def test_no_subscription_without_an_email(variants):
    _, synthesized = variants["no_email"]
    assert len(synthesized.resources("aws_sns_topic")) == 2
    assert not synthesized.resources("aws_sns_topic_subscription")


def _statements(synthesized, policy):
    return {statement["Sid"]: statement for statement in json.loads(synthesized.body(policy)["policy"])["Statement"]}


def test_each_topic_policy_names_its_publishers_for_this_account_only(with_email):
    # Issue 9 #3 / #5: the publishers are explicit (and on the data key); conditions keep other accounts out.
    built, synthesized = with_email
    assert TOPIC_PUBLISHERS == {"alerts": ("cloudwatch", "dms"), "critical": ("cloudwatch",)}
    assert ALL_TOPIC_PUBLISHERS == ("cloudwatch", "dms")
    for topic_id, topic in (("alerts", built.alerting.alerts), ("critical", built.alerting.critical)):
        policy = built.alerting.topic_policies[topic_id]
        assert synthesized.body(policy)["arn"] == synthesized.ref(topic.arn)
        statements = _statements(synthesized, policy)
        assert set(statements) == {"OwnerAccountUsesTopic"} | {
            f"{service.capitalize()}Publishes" for service in TOPIC_PUBLISHERS[topic_id]
        }
        owner = statements["OwnerAccountUsesTopic"]
        assert owner["Condition"] == {"StringEquals": {"AWS:SourceOwner": ACCOUNT_ID}}
        alarms = statements["CloudwatchPublishes"]
        assert alarms["Principal"] == {"Service": synthesized.principal_ref("cloudwatch")}
        assert (alarms["Action"], alarms["Resource"]) == ("sns:Publish", synthesized.ref(topic.arn))
        assert alarms["Condition"] == {
            "StringEquals": {"aws:SourceAccount": ACCOUNT_ID},
            "ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:us-east-1:{ACCOUNT_ID}:alarm:*"},
        }
    dms = _statements(synthesized, built.alerting.topic_policies["alerts"])["DmsPublishes"]
    assert dms["Principal"] == {"Service": synthesized.principal_ref("dms")}
    assert dms["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT_ID}}


def test_subscriptions_follow_their_topics_policy(with_email):
    built, synthesized = with_email
    for topic_id, topic in (("alerts", built.alerting.alerts), ("critical", built.alerting.critical)):
        [subscription] = [
            s
            for s in synthesized.resources("aws_sns_topic_subscription").values()
            if s["topic_arn"] == synthesized.ref(topic.arn)
        ]
        assert subscription["depends_on"] == [synthesized.address(built.alerting.topic_policies[topic_id])]
