"""Lambda (tools/local_aws/awslambda): functions run from their zip in warm python3.12 workers."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.emulator.harness import (
    Emulator,
    deploy_probe,
    invoke,
    unique,
    wait_until,
)
from tools.local_aws.awslambda.environments import PYTHON312
from tools.local_aws.awslambda.invocations import WORKER_APP_ID
from tools.local_aws.client import LocalAwsControl


@pytest.fixture(scope="module")
def bucket(records_bucket: str) -> str:
    return records_bucket


@pytest.fixture(scope="module")
def probe(aws: Callable[[str], Any], bucket: str) -> str:
    return deploy_probe(aws, environment={"PROBE_BUCKET": bucket, "GREETING": "hello"}, Timeout=5, MemorySize=256)


def test_request_response_runs_the_deployed_zip_on_python312_with_the_runtime_boto3(
    emulator: Emulator, aws: Callable[[str], Any], probe: str, bucket: str
) -> None:
    described, response = invoke(aws, probe, {"action": "describe"})
    assert response["StatusCode"] == 200 and "FunctionError" not in response
    assert described["python"] == "3.12"
    assert described["boto3"] == PYTHON312.packages[0].split("==")[1]
    assert "/build/lambda-runtimes/" in described["executable"]
    assert not any(".venv" in entry for entry in described["sys_path"]), "the project's virtualenv leaked in"
    environment = described["environment"]
    assert environment["GREETING"] == "hello"
    assert environment["AWS_ENDPOINT_URL"] == emulator.url
    assert environment["AWS_ACCESS_KEY_ID"] == "local" and environment["AWS_LAMBDA_FUNCTION_NAME"] == probe
    assert environment["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert environment["AWS_SDK_UA_APP_ID"] == WORKER_APP_ID  # its calls do not keep the emulator awake
    assert bucket in described["buckets"]  # boto3 inside the function reached the emulator
    assert described["function_name"] == probe and described["memory_limit_in_mb"] == 256
    assert 0 < described["remaining_ms"] <= 5000
    assert described["invoked_function_arn"].endswith(f":function:{probe}")


def test_warm_workers_are_reused_and_each_concurrent_invocation_gets_its_own(
    aws: Callable[[str], Any], probe: str
) -> None:
    first, _ = invoke(aws, probe, {"action": "describe"})
    second, _ = invoke(aws, probe, {"action": "describe"})
    assert first["pid"] == second["pid"], "a warm worker was not reused"

    pids: list[int] = []

    def slow() -> None:
        pids.append(invoke(aws, probe, {"action": "sleep", "seconds": 1.0})[0]["pid"])

    threads = [threading.Thread(target=slow) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(pids)) == 3, f"concurrent invocations shared workers: {pids}"


def test_an_error_comes_back_as_unhandled_with_the_error_document(aws: Callable[[str], Any], probe: str) -> None:
    error, response = invoke(aws, probe, {"action": "fail", "message": "card declined"})
    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "ValueError" and error["errorMessage"] == "card declined"
    assert error["requestId"] and any("handler.py" in frame for frame in error["stackTrace"])


def test_a_timeout_kills_the_worker_and_reports_it(aws: Callable[[str], Any], bucket: str) -> None:
    name = deploy_probe(aws, environment={"PROBE_BUCKET": bucket}, Timeout=1)
    before, _ = invoke(aws, name, {"action": "describe"})
    error, response = invoke(aws, name, {"action": "sleep", "seconds": 30})
    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in error["errorMessage"]
    after, _ = invoke(aws, name, {"action": "describe"})
    assert after["pid"] != before["pid"], "the timed-out worker was reused"


def test_logs_go_to_the_function_log_group(aws: Callable[[str], Any], bucket: str) -> None:
    name = deploy_probe(aws, environment={"PROBE_BUCKET": bucket})
    result, response = invoke(aws, name, {"action": "describe"}, LogType="Tail")
    tail = base64.b64decode(response["LogResult"]).decode()
    assert f"START RequestId: {result['request_id']}" in tail and "Init Duration" in tail

    def messages() -> list[str]:
        events = aws("logs").filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
        return [event["message"] for event in events]

    logged = wait_until(lambda: [m for m in messages() if m.startswith("REPORT")] and messages(), seconds=10)
    request_id = result["request_id"]
    assert f"START RequestId: {request_id} Version: $LATEST" in logged
    assert f"probe describe {request_id}" in logged
    assert f"END RequestId: {request_id}" in logged
    assert any(m.startswith(f"REPORT RequestId: {request_id}\tDuration: ") for m in logged)
    streams = aws("logs").describe_log_streams(logGroupName=f"/aws/lambda/{name}")["logStreams"]
    assert [s["logStreamName"] for s in streams] == [result["log_stream_name"]]


def test_event_invocations_run_in_the_background(aws: Callable[[str], Any], probe: str, bucket: str) -> None:
    key = unique("event")
    response = aws("lambda").invoke(
        FunctionName=probe,
        InvocationType="Event",
        Payload=json.dumps({"action": "record", "key": key, "received": {"n": 1}}),
    )
    assert response["StatusCode"] == 202
    body = wait_until(lambda: _object(aws, bucket, key), seconds=30)
    assert json.loads(body) == {"n": 1}


def _object(aws: Callable[[str], Any], bucket: str, key: str) -> bytes | None:
    try:
        return aws("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError:
        return None


def test_async_failures_are_retried_twice_then_sent_to_the_dead_letter_topic(
    aws: Callable[[str], Any], control: LocalAwsControl, bucket: str
) -> None:
    sns, sqs = aws("sns"), aws("sqs")
    topic = sns.create_topic(Name=unique("dlq"))["TopicArn"]
    queue_url = sqs.create_queue(QueueName=unique("dlq-copy"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    name = deploy_probe(aws, environment={"PROBE_BUCKET": bucket}, DeadLetterConfig={"TargetArn": topic})
    event = {"action": "fail", "message": "ledger unavailable"}

    response = aws("lambda").invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps(event))
    assert response["StatusCode"] == 202
    messages = wait_until(
        lambda: sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1).get("Messages"), seconds=60
    )
    assert messages, "nothing reached the dead-letter topic"
    envelope = json.loads(messages[0]["Body"])
    assert json.loads(envelope["Message"]) == event
    attributes = {name: value["Value"] for name, value in envelope["MessageAttributes"].items()}
    assert attributes["ErrorMessage"] == "ledger unavailable" and attributes["ErrorCode"] == "200"
    state = control.invocation(attributes["RequestID"])
    assert state["status"] == "dead-lettered" and state["attempts"] == 3 and state["dead_letter_target"] == topic
    assert [error["errorMessage"] for error in state["errors"]] == ["ledger unavailable"] * 3


def test_a_runtime_that_cannot_run_locally_is_refused_clearly(aws: Callable[[str], Any]) -> None:
    name = deploy_probe(aws, runtime="nodejs20.x")
    with pytest.raises(ClientError) as refused:
        invoke(aws, name, {})
    error = refused.value.response["Error"]
    assert error["Code"] == "InvalidRuntimeException"
    assert "'nodejs20.x' does not run on the local emulator" in error["Message"] and "python3.12" in error["Message"]


def test_the_function_cannot_reach_beyond_the_loopback(aws: Callable[[str], Any], probe: str) -> None:
    refused, _ = invoke(aws, probe, {"action": "connect", "host": "192.0.2.10", "port": 5432})
    assert refused["connected"] is False and "LoopbackViolation" in refused["error"]


def test_dead_letter_config_is_returned_and_updated(aws: Callable[[str], Any]) -> None:
    sqs = aws("sqs")
    first, second = (
        sqs.get_queue_attributes(
            QueueUrl=sqs.create_queue(QueueName=unique("dlq"))["QueueUrl"], AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        for _ in range(2)
    )
    lam = aws("lambda")
    name = deploy_probe(aws, DeadLetterConfig={"TargetArn": first})
    assert lam.get_function_configuration(FunctionName=name)["DeadLetterConfig"] == {"TargetArn": first}

    lam.update_function_configuration(FunctionName=name, DeadLetterConfig={"TargetArn": second})
    assert lam.get_function(FunctionName=name)["Configuration"]["DeadLetterConfig"] == {"TargetArn": second}

    lam.update_function_configuration(FunctionName=name, DeadLetterConfig={})
    assert "DeadLetterConfig" not in lam.get_function_configuration(FunctionName=name)


def test_the_retry_delay_hook_refuses_what_is_not_a_list_of_seconds(control: LocalAwsControl) -> None:
    import urllib.error

    for bad in ([], ["soon"], [-1], [7200]):
        with pytest.raises(urllib.error.HTTPError) as refused:
            control.set_retry_delays(*bad)
        assert refused.value.code == 400
    with pytest.raises(urllib.error.HTTPError) as missing:
        control.invocation("no-such-request")
    assert missing.value.code == 404
    assert control.set_retry_delays(0.1, 0.1) == [0.1, 0.1]


def test_a_permission_added_twice_is_held_once_and_a_taken_id_is_a_conflict(aws: Callable[[str], Any]) -> None:
    # A retried AddPermission left two statements with one id; removing the permission then never finished.
    name = deploy_probe(aws)
    lambda_client = aws("lambda")
    permission = {
        "FunctionName": name,
        "StatementId": "AllowScheduleInvoke",
        "Action": "lambda:InvokeFunction",
        "Principal": "events.amazonaws.com",
        "SourceArn": "arn:aws:events:us-east-1:123456789012:rule/validate",
    }
    lambda_client.add_permission(**permission)
    lambda_client.add_permission(**permission)
    statements = json.loads(lambda_client.get_policy(FunctionName=name)["Policy"])["Statement"]
    assert [statement["Sid"] for statement in statements] == ["AllowScheduleInvoke"]
    with pytest.raises(lambda_client.exceptions.ResourceConflictException):
        lambda_client.add_permission(**{**permission, "Principal": "sns.amazonaws.com"})
    lambda_client.remove_permission(FunctionName=name, StatementId="AllowScheduleInvoke")
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):
        lambda_client.get_policy(FunctionName=name)
