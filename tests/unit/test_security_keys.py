"""SecurityKeys alone: two rotating keys with explicit policies and aliases; log groups under the logs key."""

import json

import pytest
from cdktf import Testing
from cdktf_cdktf_provider_aws.kms_alias import KmsAlias
from cdktf_cdktf_provider_aws.kms_key import KmsKey
from constructs import Construct

from lib.constructs.security_keys import SecurityKeys, encrypted_log_group, publisher_sid
from tests.unit.stacks import ACCOUNT_ID, bare_stack, synth


def security_keys(stack, *, deletion_window_days: int, topic_publishers: tuple[str, ...]) -> SecurityKeys:
    return SecurityKeys(
        stack,
        "security_keys",
        name_prefix="payments-test",
        account_id=ACCOUNT_ID,
        partition="aws",
        region="eu-central-1",
        deletion_window_days=deletion_window_days,
        topic_publishers=topic_publishers,
    )


@pytest.fixture(scope="module")
def keys():
    stack = bare_stack()
    keys = security_keys(stack, deletion_window_days=30, topic_publishers=("cloudwatch", "dms"))
    return keys, synth(stack)


def _statements(synthesized, key):
    return {statement["Sid"]: statement for statement in json.loads(synthesized.body(key)["policy"])["Statement"]}


def test_both_keys_rotate_with_the_given_deletion_window(keys):
    keys, synthesized = keys
    assert Testing.to_have_resource_with_properties(
        synthesized.text,
        KmsKey.TF_RESOURCE_TYPE,
        {"description": "payments-test data at rest", "enable_key_rotation": True, "deletion_window_in_days": 30},
    )
    assert Testing.to_have_resource_with_properties(
        synthesized.text,
        KmsKey.TF_RESOURCE_TYPE,
        {"description": "payments-test CloudWatch Logs", "enable_key_rotation": True, "deletion_window_in_days": 30},
    )
    assert len(synthesized.resources("aws_kms_key")) == 2


def test_aliases_name_each_key(keys):
    keys, synthesized = keys
    for purpose, key in (("data", keys.data_key), ("logs", keys.logs_key)):
        assert Testing.to_have_resource_with_properties(
            synthesized.text,
            KmsAlias.TF_RESOURCE_TYPE,
            {"name": f"alias/payments-test-{purpose}", "target_key_id": synthesized.ref(key.key_id)},
        )


def test_the_account_administers_both_keys(keys):
    keys, synthesized = keys
    for key in (keys.data_key, keys.logs_key):
        root = _statements(synthesized, key)["AccountAdministersKey"]
        assert root["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"} and root["Action"] == "kms:*"


def test_cloudwatch_logs_of_this_account_and_region_may_use_the_logs_key(keys):
    keys, synthesized = keys
    statement = _statements(synthesized, keys.logs_key)["CloudWatchLogsUseKey"]
    assert statement["Principal"] == {"Service": synthesized.principal_ref("logs", "id")}  # regional principal
    assert statement["Condition"] == {
        "ArnLike": {"kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:eu-central-1:{ACCOUNT_ID}:*"}
    }


def test_every_topic_publisher_of_this_account_may_publish_to_topics_under_the_data_key(keys):
    # Issue 9 #5: CloudWatch alarms and DMS event subscriptions publish to topics encrypted with the data key.
    keys, synthesized = keys
    statements = _statements(synthesized, keys.data_key)
    for service in ("cloudwatch", "dms"):
        statement = statements[publisher_sid(service)]
        assert statement["Principal"] == {"Service": synthesized.principal_ref(service)}
        assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT_ID}}
        # What SNS needs of a publisher (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html).
        assert statement["Action"] == ["kms:GenerateDataKey*", "kms:Decrypt"]
    assert set(statements) == {"AccountAdministersKey", publisher_sid("cloudwatch"), publisher_sid("dms")}


def test_publisher_statements_follow_the_publishers_named():
    stack = bare_stack()
    only_alarms = security_keys(stack, deletion_window_days=7, topic_publishers=("cloudwatch",))
    synthesized = synth(stack)
    assert set(_statements(synthesized, only_alarms.data_key)) == {
        "AccountAdministersKey",
        "CloudwatchPublishesToEncryptedTopics",
    }
    assert publisher_sid("events") == "EventsPublishesToEncryptedTopics"


def test_a_log_group_is_encrypted_with_the_logs_key_and_kept_for_its_retention():
    stack = bare_stack()
    keys = security_keys(stack, deletion_window_days=7, topic_publishers=())
    group = encrypted_log_group(
        Construct(stack, "writer"), "log_group", name="/aws/test/writer", retention_days=14, keys=keys
    )
    synthesized = synth(stack)
    assert synthesized.body(group) == {
        "name": "/aws/test/writer",
        "retention_in_days": 14,
        "kms_key_id": synthesized.ref(keys.logs_key.arn),
    }
    assert synthesized.address(group).startswith("aws_cloudwatch_log_group.writer_log_group_")
