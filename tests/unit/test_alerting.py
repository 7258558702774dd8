"""Alerting alone: two topics under the data key; an e-mail on both only when one is given."""

import pytest
from cdktf import Testing
from cdktf_cdktf_provider_aws.sns_topic import SnsTopic
from cdktf_cdktf_provider_aws.sns_topic_subscription import SnsTopicSubscription

from tests.unit.stacks import built_through


def build(alarm_email):
    return built_through("alerting", alerting={"alarm_email": alarm_email})


@pytest.fixture(scope="module")
def with_email():
    return build("oncall@example.com")


def test_both_topics_are_encrypted_with_the_data_key(with_email):
    built, synthesized = with_email
    for name in ("payments-test-alerts", "payments-test-critical"):
        assert Testing.to_have_resource_with_properties(synthesized.text, SnsTopic.TF_RESOURCE_TYPE, {
            "name": name, "kms_master_key_id": synthesized.ref(built.keys.data_key.arn)})


def test_the_email_is_subscribed_to_both_topics(with_email):
    built, synthesized = with_email
    for topic in (built.alerting.alerts, built.alerting.critical):
        assert Testing.to_have_resource_with_properties(synthesized.text, SnsTopicSubscription.TF_RESOURCE_TYPE, {
            "topic_arn": synthesized.ref(topic.arn), "protocol": "email", "endpoint": "oncall@example.com"})


def test_no_subscription_without_an_email():
    _, synthesized = build(None)
    assert len(synthesized.resources("aws_sns_topic")) == 2
    assert not synthesized.resources("aws_sns_topic_subscription")
