"""A Lambda function that reports what it sees, for the emulator's Lambda tests (stdlib + boto3).

The event says what to do: {"action": "describe" | "fail" | "sleep" | "record" | "connect", ...}.
"""

import json
import os
import socket
import sys
import time

import boto3

COLD = {"started": time.time()}


def handler(event, context):
    if "Records" in event or event.get("detail-type") == "Scheduled Event":
        event = {"action": "record", "received": event}
    action = event.get("action", "describe")
    print(f"probe {action} {context.aws_request_id}")
    if action == "fail":
        raise ValueError(event.get("message", "probe failed on purpose"))
    if action == "sleep":
        time.sleep(event["seconds"])
        return {"slept": event["seconds"], "pid": os.getpid()}
    if action == "record":
        key = event.get("key") or context.aws_request_id
        boto3.client("s3").put_object(
            Bucket=os.environ["PROBE_BUCKET"], Key=key, Body=json.dumps(event["received"]).encode()
        )
        return {"recorded": key}
    if action == "connect":
        try:
            socket.create_connection((event["host"], event["port"]), timeout=2).close()
        except OSError as error:
            return {"connected": False, "error": f"{type(error).__name__}: {error}"}
        return {"connected": True}
    return {
        "pid": os.getpid(),
        "python": "{}.{}".format(*sys.version_info[:2]),
        "executable": sys.executable,
        "sys_path": sys.path,
        "boto3": boto3.__version__,
        "environment": dict(os.environ),
        "request_id": context.aws_request_id,
        "function_name": context.function_name,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "invoked_function_arn": context.invoked_function_arn,
        "log_stream_name": context.log_stream_name,
        "buckets": [bucket["Name"] for bucket in boto3.client("s3").list_buckets()["Buckets"]],
    }
