"""payment_api with the cutover's write gate (CUTOVER_STATE_PARAMETER, shared/write_gate.py): writes reach
Aurora only while the cutover state says Aurora is the writer; otherwise 503 + Retry-After, and the
retry with the same Idempotency-Key is taken once writes resume. SSM is moto; the database is real."""

import json

import boto3
import pytest
from moto import mock_aws

import cutover_state as cs
import support_cutover as sc

PARAMETER = "/payments-test/cutover/state"
PAYMENT = {"amount": "12.34", "currency": "EUR", "merchant_id": "merchant-7"}
MERCHANT = {"X-Merchant-Id": "merchant-7"}


@pytest.fixture
def ssm(monkeypatch):
    with mock_aws():
        monkeypatch.setenv("CUTOVER_STATE_PARAMETER", PARAMETER)
        yield boto3.client("ssm", region_name="us-east-1")


@pytest.fixture
def api(ssm, load_lambda, app_data_api, monkeypatch):
    module = load_lambda("payment_api")  # loaded with CUTOVER_STATE_PARAMETER set: the gate is installed
    monkeypatch.setattr(module, "rds_data_client", lambda: app_data_api)
    return module


def set_state(ssm, writer, **changes):
    state = {**cs.initial_state(writer, sc.FakeClock().now()), **changes}
    ssm.put_parameter(Name=PARAMETER, Type="String", Value=json.dumps(state), Overwrite=True)


def post(api, alb_event, key):
    response = api.handler(alb_event("POST", "/payments", PAYMENT, {**MERCHANT, "Idempotency-Key": key}), None)
    return response["statusCode"], json.loads(response["body"]), response["headers"]


def test_the_gate_is_installed_only_with_the_parameter(load_lambda, monkeypatch):
    monkeypatch.delenv("CUTOVER_STATE_PARAMETER", raising=False)
    assert load_lambda("payment_api").WRITE_GATES == []
    monkeypatch.setenv("CUTOVER_STATE_PARAMETER", PARAMETER)
    [gate] = load_lambda("payment_api").WRITE_GATES
    assert gate.parameter_name == PARAMETER


def test_writes_wait_while_legacy_is_the_writer_and_during_a_pause(api, ssm, alb_event, monkeypatch):
    gate = api.WRITE_GATES[0]
    moments = iter(range(0, 1000, 2))  # every write two seconds after the last: the cache never answers
    monkeypatch.setattr(gate, "monotonic", lambda: float(next(moments)))
    set_state(ssm, "legacy")
    status, body, headers = post(api, alb_event, "key-1")
    assert (status, body["error"], headers["retry-after"]) == (503, cs.NOT_WRITER_REASON, "2")
    set_state(ssm, "legacy", phase="switching", direction="flip")
    status, body, _ = post(api, alb_event, "key-1")
    assert (status, body["error"]) == (503, "writes paused for cutover, retry")
    set_state(ssm, "aurora")
    status, created, _ = post(api, alb_event, "key-1")
    assert status == 201
    set_state(ssm, "aurora", phase="pausing", direction="rollback")
    assert post(api, alb_event, "key-2")[0] == 503
    set_state(ssm, "aurora")
    assert post(api, alb_event, "key-1")[:2] == (200, created)  # the client's retry: replayed, not charged twice


def test_writes_wait_when_the_state_is_missing(api, alb_event):
    status, body, headers = post(api, alb_event, "key-1")
    assert (status, body["error"], headers["retry-after"]) == (503, "cutover state unavailable, retry", "2")


def test_reads_do_not_ask_the_gate(api, ssm, alb_event, app_data_api):
    set_state(ssm, "aurora")
    created = post(api, alb_event, "key-1")[1]
    set_state(ssm, "legacy")
    response = api.handler(alb_event("GET", f"/payments/{created['id']}", None, MERCHANT), None)
    assert response["statusCode"] == 200
