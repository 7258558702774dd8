"""Lambda patches (tools/local_aws/awslambda.py) through boto3."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any, Callable

from tests.emulator.harness import unique


def lambda_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return event\n")
    return buffer.getvalue()


def test_lambda_dead_letter_config_is_returned_and_updated(aws: Callable[[str], Any]) -> None:
    iam, sqs, lam = aws("iam"), aws("sqs"), aws("lambda")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                      "Principal": {"Service": "lambda.amazonaws.com"}}]}
    role = iam.create_role(RoleName=unique("fn"), AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    first, second = (sqs.get_queue_attributes(QueueUrl=sqs.create_queue(QueueName=unique("dlq"))["QueueUrl"],
                                              AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
                     for _ in range(2))
    name = unique("fn")
    created = lam.create_function(FunctionName=name, Runtime="python3.12", Role=role, Handler="handler.handler",
                                  Code={"ZipFile": lambda_zip()}, DeadLetterConfig={"TargetArn": first})
    assert created["DeadLetterConfig"] == {"TargetArn": first}
    assert lam.get_function_configuration(FunctionName=name)["DeadLetterConfig"] == {"TargetArn": first}

    lam.update_function_configuration(FunctionName=name, DeadLetterConfig={"TargetArn": second})
    assert lam.get_function(FunctionName=name)["Configuration"]["DeadLetterConfig"] == {"TargetArn": second}

    lam.update_function_configuration(FunctionName=name, DeadLetterConfig={})
    assert "DeadLetterConfig" not in lam.get_function_configuration(FunctionName=name)
