"""The TARGET=aws deploy preflight (tools/preflight.py) against botocore's Stubber: nothing reaches AWS
(every suite's loopback guard would refuse it), every answer is one AWS could give."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from lib.config import load_settings
from tools import preflight, stack
from tools.preflight import PreflightError

AWS = {
    "TARGET": "aws",
    "CERTIFICATE_ARN": "arn:aws:acm:us-east-1:123456789012:certificate/abc",
    "ONPREM_CUSTOMER_GATEWAY_IP": "52.94.76.200",
    "ENVIRONMENT_SUFFIX": "pre",
    "HOSTED_ZONE_ID": "Z0123456789ABC",
    "HOSTED_ZONE_NAME": "example.com",
}
ZONES = ("use1-az6", "use1-az1", "use1-az2")
FUNCTIONS = {
    "payments-pre-payment-api": 50,
    "payments-pre-migration-validator": 2,
    "payments-pre-traffic-shifter": 1,
    "payments-pre-rollback": 1,
}


class Account:
    """Stubbed clients of one account and region; `clients` is what the preflight calls."""

    def __init__(self) -> None:
        session = boto3.session.Session(aws_access_key_id="stub", aws_secret_access_key="stub", region_name="us-east-1")
        self._clients = {name: session.client(name) for name in ("dms", "rds", "ec2", "route53", "iam", "lambda")}
        self.stubs = {name: Stubber(client) for name, client in self._clients.items()}
        for stubber in self.stubs.values():
            stubber.activate()

    def clients(self, name: str):
        return self._clients[name]

    def add(self, service: str, operation: str, response: dict, params: dict | None = None) -> Account:
        self.stubs[service].add_response(operation, response, params)
        return self

    def fail(self, service: str, operation: str, code: str, message: str = "", status: int = 400) -> Account:
        self.stubs[service].add_client_error(
            operation, service_error_code=code, service_message=message, http_status_code=status
        )
        return self

    def all_answered(self) -> None:
        for stubber in self.stubs.values():
            stubber.assert_no_pending_responses()

    # --- what a healthy account answers ---

    def dms_offers(self, *versions: str, instance_class: str = "dms.t3.medium") -> Account:
        return self.add(
            "dms",
            "describe_orderable_replication_instances",
            {
                "OrderableReplicationInstances": [
                    {"ReplicationInstanceClass": instance_class, "EngineVersion": version, "StorageType": "gp2"}
                    for version in versions
                ]
                + [{"ReplicationInstanceClass": "dms.r5.large", "EngineVersion": "3.6.1"}]
            },
        )

    def aurora_has(self, version: str = "15.10", *, status: str = "available", serverless: bool = True) -> Account:
        self.add(
            "rds",
            "describe_db_engine_versions",
            {"DBEngineVersions": [{"Engine": "aurora-postgresql", "EngineVersion": version, "Status": status}]},
            {"Engine": "aurora-postgresql", "EngineVersion": version},
        )
        if status == "available":
            self.add(
                "rds",
                "describe_orderable_db_instance_options",
                {
                    "OrderableDBInstanceOptions": [
                        {"Engine": "aurora-postgresql", "EngineVersion": version, "DBInstanceClass": "db.serverless"}
                    ]
                    if serverless
                    else []
                },
                {
                    "Engine": "aurora-postgresql",
                    "EngineVersion": version,
                    "DBInstanceClass": "db.serverless",
                    "MaxRecords": 20,
                },
            )
        return self

    def zones(self, *available: str, impaired: tuple[str, ...] = ()) -> Account:
        return self.add(
            "ec2",
            "describe_availability_zones",
            {
                "AvailabilityZones": [
                    {"ZoneId": zone_id, "ZoneName": f"us-east-1{letter}", "State": state, "RegionName": "us-east-1"}
                    for zone_id, letter, state in [
                        *((z, "x", "available") for z in available),
                        *((z, "y", "impaired") for z in impaired),
                    ]
                ]
            },
            {"ZoneIds": list(ZONES), "AllAvailabilityZones": True},
        )

    def hosted_zone(self, name: str = "example.com.", *, private: bool = False) -> Account:
        return self.add(
            "route53",
            "get_hosted_zone",
            {
                "HostedZone": {
                    "Id": f"/hostedzone/{AWS['HOSTED_ZONE_ID']}",
                    "Name": name,
                    "CallerReference": "payments",
                    "Config": {"PrivateZone": private},
                },
                "DelegationSet": {"NameServers": ["ns-1.awsdns-01.org"]},
            },
            {"Id": AWS["HOSTED_ZONE_ID"]},
        )

    def roles(self, *names: str) -> Account:
        for name in names:
            self.add(
                "iam",
                "get_role",
                {
                    "Role": {
                        "Path": "/",
                        "RoleName": name,
                        "RoleId": "AROAEXAMPLEEXAMPLE01",
                        "CreateDate": "2026-01-01T00:00:00Z",
                        "Arn": f"arn:aws:iam::123456789012:role/{name}",
                    }
                },
                {"RoleName": name},
            )
        return self

    def concurrency(self, *, limit: int = 1000, unreserved: int, own: dict[str, int] | None = None) -> Account:
        self.add(
            "lambda",
            "get_account_settings",
            {"AccountLimit": {"ConcurrentExecutions": limit, "UnreservedConcurrentExecutions": unreserved}},
        )
        for name in sorted(FUNCTIONS):
            if own and name in own:
                self.add(
                    "lambda",
                    "get_function_concurrency",
                    {"ReservedConcurrentExecutions": own[name]},
                    {"FunctionName": name},
                )
            else:
                self.fail("lambda", "get_function_concurrency", "ResourceNotFoundException", "Function not found", 404)
        return self

    def healthy(self) -> Account:
        return (
            self.dms_offers("3.5.4", "3.6.1")
            .aurora_has()
            .zones(*ZONES)
            .hosted_zone()
            .roles("dms-vpc-role", "dms-cloudwatch-logs-role")
            .concurrency(unreserved=1000)
        )


def synthesized_file(tmp_path: Path, reserved: Mapping[str, int | None] = FUNCTIONS) -> Path:
    functions = {
        f"fn_{index}": {"function_name": name, **({} if value is None else {"reserved_concurrent_executions": value})}
        for index, (name, value) in enumerate(reserved.items())
    }
    path = tmp_path / "cdk.tf.json"
    path.write_text(json.dumps({"resource": {"aws_lambda_function": functions}}))
    return path


@pytest.fixture
def settings():
    return load_settings(AWS)


def test_a_healthy_account_passes_every_check(settings, tmp_path, capsys):
    account = Account().healthy()
    preflight.run(settings, synthesized_file(tmp_path), account.clients)
    account.all_answered()
    assert capsys.readouterr().out.startswith("preflight: us-east-1 can take TapStackpre")


def fails_with(settings, account, tmp_path, reserved=FUNCTIONS) -> str:
    with pytest.raises(PreflightError) as raised:
        preflight.run(settings, synthesized_file(tmp_path, reserved), account.clients)
    message = str(raised.value)
    assert "\n" not in message
    return message


# --- versions -------------------------------------------------------------------------------


def test_a_dms_version_the_region_no_longer_offers_stops_the_deploy(settings, tmp_path):
    message = fails_with(settings, Account().dms_offers("3.5.4", "3.6.2"), tmp_path)
    assert message.startswith("DMS_ENGINE_VERSION=3.6.1 can no longer be created with dms.t3.medium in us-east-1")
    assert "AWS offers 3.5.4, 3.6.2" in message


def test_an_instance_class_the_region_does_not_offer_stops_the_deploy(tmp_path):
    settings = load_settings({**AWS, "DMS_INSTANCE_CLASS": "dms.c6i.32xlarge"})
    message = fails_with(settings, Account().dms_offers("3.6.1"), tmp_path)
    assert message.startswith("DMS_INSTANCE_CLASS=dms.c6i.32xlarge cannot be ordered in us-east-1")


def test_an_aurora_version_that_is_gone_or_deprecated_stops_the_deploy(settings, tmp_path):
    gone = Account().dms_offers("3.6.1").add("rds", "describe_db_engine_versions", {"DBEngineVersions": []})
    assert fails_with(settings, gone, tmp_path).startswith(
        "DB_ENGINE_VERSION=15.10 does not exist for aurora-postgresql"
    )
    deprecated = Account().dms_offers("3.6.1").aurora_has(status="deprecated")
    assert fails_with(settings, deprecated, tmp_path).startswith("DB_ENGINE_VERSION=15.10 is deprecated")


def test_an_aurora_version_without_serverless_v2_stops_the_deploy(settings, tmp_path):
    message = fails_with(settings, Account().dms_offers("3.6.1").aurora_has(serverless=False), tmp_path)
    assert "no Serverless v2 (db.serverless) instances in us-east-1" in message


# --- zones ----------------------------------------------------------------------------------


def test_an_impaired_or_missing_zone_stops_the_deploy(settings, tmp_path):
    account = Account().dms_offers("3.6.1").aurora_has().zones("use1-az6", "use1-az1", impaired=("use1-az2",))
    assert fails_with(settings, account, tmp_path) == (
        "AVAILABILITY_ZONE_IDS: use1-az2 is not an available zone of us-east-1 in this account: choose zones that are"
    )
    unknown = (
        Account()
        .dms_offers("3.6.1")
        .aurora_has()
        .fail("ec2", "describe_availability_zones", "InvalidParameterValue", "Invalid availability zone: [use1-az2]")
    )
    assert "us-east-1 refuses them (Invalid availability zone: [use1-az2])" in fails_with(settings, unknown, tmp_path)


# --- the account-wide DMS roles ---------------------------------------------------------------


def account_up_to_the_hosted_zone() -> Account:
    return Account().dms_offers("3.6.1").aurora_has().zones(*ZONES)


def account_through_the_hosted_zone() -> Account:
    return account_up_to_the_hosted_zone().hosted_zone()


def test_a_hosted_zone_id_that_does_not_exist_stops_the_deploy(settings, tmp_path):
    account = account_up_to_the_hosted_zone().fail("route53", "get_hosted_zone", "NoSuchHostedZone", "No zone", 404)
    message = fails_with(settings, account, tmp_path)
    assert message.startswith("HOSTED_ZONE_ID=Z0123456789ABC: no such hosted zone in this account")


def test_a_hosted_zone_of_another_name_stops_the_deploy(settings, tmp_path):
    account = account_up_to_the_hosted_zone().hosted_zone("example.org.")
    message = fails_with(settings, account, tmp_path)
    assert "is the zone example.org, not HOSTED_ZONE_NAME=example.com" in message


def test_the_zone_name_is_compared_without_case_or_the_final_dot(tmp_path):
    settings = load_settings({**AWS, "HOSTED_ZONE_NAME": "Example.COM"})
    account = Account().healthy()
    preflight.run(settings, synthesized_file(tmp_path), account.clients)
    account.all_answered()


def test_a_private_zone_for_an_internet_facing_alb_stops_the_deploy(settings, tmp_path):
    account = account_up_to_the_hosted_zone().hosted_zone(private=True)
    message = fails_with(settings, account, tmp_path)
    assert "is a private zone" in message and "use a public zone, or ALB_INTERNAL=true" in message


def test_a_private_zone_is_fine_for_an_internal_alb(tmp_path):
    settings = load_settings({**AWS, "ALB_INTERNAL": "true"})
    account = (
        account_up_to_the_hosted_zone()
        .hosted_zone(private=True)
        .roles("dms-vpc-role", "dms-cloudwatch-logs-role")
        .concurrency(unreserved=1000)
    )
    preflight.run(settings, synthesized_file(tmp_path), account.clients)
    account.all_answered()


def test_a_missing_dms_role_stops_the_deploy_and_says_how_to_fix_it(settings, tmp_path):
    account = (
        account_through_the_hosted_zone()
        .roles("dms-vpc-role")
        .fail("iam", "get_role", "NoSuchEntity", "The role cannot be found", 404)
    )
    message = fails_with(settings, account, tmp_path)
    assert message.startswith("dms-cloudwatch-logs-role does not exist in this account")
    assert "service-role/AmazonDMSCloudWatchLogsRole" in message and "CREATE_DMS_SERVICE_ROLES=true" in message


def test_the_roles_are_not_looked_up_when_the_stack_creates_them(tmp_path):
    settings = load_settings({**AWS, "CREATE_DMS_SERVICE_ROLES": "true"})
    account = account_through_the_hosted_zone().concurrency(unreserved=1000)
    preflight.run(settings, synthesized_file(tmp_path), account.clients)  # an IAM call would hit an empty stub
    account.all_answered()


# --- Lambda concurrency -------------------------------------------------------------------------


def test_reservations_that_leave_under_100_unreserved_stop_the_first_deploy(settings, tmp_path):
    account = (
        account_through_the_hosted_zone()
        .roles("dms-vpc-role", "dms-cloudwatch-logs-role")
        .concurrency(limit=1000, unreserved=150)
    )
    message = fails_with(settings, account, tmp_path)
    assert message.startswith(
        "the functions reserve 54 concurrent executions (payments-pre-migration-validator 2, "
        "payments-pre-payment-api 50, payments-pre-rollback 1, payments-pre-traffic-shifter 1)"
    )
    assert "150 unreserved of the account's 1000" in message and "96 would remain" in message
    assert "PAYMENT_API_RESERVED_CONCURRENCY" in message


def test_the_stacks_own_reservations_count_as_free_so_a_redeploy_passes(settings, tmp_path):
    # The same account after the first deploy: 96 left unreserved, of which this stack holds 54.
    account = (
        account_through_the_hosted_zone()
        .roles("dms-vpc-role", "dms-cloudwatch-logs-role")
        .concurrency(unreserved=96, own=FUNCTIONS)
    )
    with pytest.raises(PreflightError):
        preflight.run(settings, synthesized_file(tmp_path), account.clients)  # 96 + 54 - 54 = 96 < 100
    account = (
        account_through_the_hosted_zone()
        .roles("dms-vpc-role", "dms-cloudwatch-logs-role")
        .concurrency(unreserved=146, own=FUNCTIONS)
    )
    preflight.run(settings, synthesized_file(tmp_path), account.clients)  # 146 + 54 - 54 = 146
    account.all_answered()


def test_no_reservation_asks_lambda_nothing(settings, tmp_path):
    account = account_through_the_hosted_zone().roles("dms-vpc-role", "dms-cloudwatch-logs-role")
    preflight.run(settings, synthesized_file(tmp_path, {"payments-pre-payment-api": None}), account.clients)
    account.all_answered()


def test_reservations_are_read_from_the_synthesized_functions():
    synthesized = {
        "resource": {
            "aws_lambda_function": {
                "a": {"function_name": "x", "reserved_concurrent_executions": 50},
                "b": {"function_name": "y"},
                "c": {"function_name": "z", "reserved_concurrent_executions": -1},
            }
        }
    }
    assert preflight.reservations(synthesized) == [preflight.Reservation("x", 50)]


# --- how it fails and where it runs -------------------------------------------------------------


def test_an_aws_error_is_one_line_not_a_traceback(settings, tmp_path):
    account = Account().fail(
        "dms",
        "describe_orderable_replication_instances",
        "AccessDeniedException",
        "User is not authorized to perform: dms:DescribeOrderableReplicationInstances",
    )
    message = fails_with(settings, account, tmp_path)
    assert message.startswith("the preflight could not ask AWS in us-east-1: AccessDeniedException: User is not")


def test_the_preflight_never_runs_against_the_local_target(tmp_path):
    with pytest.raises(ValueError, match="local target"):
        preflight.run(load_settings({}), synthesized_file(tmp_path), Account().clients)


def test_deploy_asks_the_account_before_terraform_runs_and_stops_with_exit_2(monkeypatch, capsys):
    steps = []
    settings = dataclasses.replace(load_settings(AWS))
    monkeypatch.setattr(stack, "load_settings", lambda: settings)
    monkeypatch.setattr(stack, "prepare_state", lambda s: steps.append("state"))
    monkeypatch.setattr(stack, "synth", lambda s: steps.append("synth"))
    monkeypatch.setattr(stack, "init", lambda s: steps.append("init"))
    monkeypatch.setattr(stack, "run_with_progress", lambda *a, **k: steps.append("apply"))

    def refuse(checked_settings, synthesized_file):
        steps.append("preflight")
        raise PreflightError("DMS_ENGINE_VERSION=3.6.1 can no longer be created")

    monkeypatch.setattr(preflight, "run", refuse)
    assert stack.main(["deploy"]) == 2
    assert steps == ["state", "synth", "preflight"]
    assert capsys.readouterr().err == "error: DMS_ENGINE_VERSION=3.6.1 can no longer be created\n"


def test_a_local_deploy_never_asks_aws(monkeypatch):
    steps = []
    monkeypatch.setattr(stack, "load_settings", lambda: load_settings({}))
    for name in ("prepare_state", "synth", "ensure_emulator", "init"):
        monkeypatch.setattr(stack, name, lambda s, name=name: steps.append(name))
    monkeypatch.setattr(stack, "run_with_progress", lambda *a, **k: steps.append("apply"))
    monkeypatch.setattr(stack, "write_outputs", lambda s: {})
    monkeypatch.setattr(stack, "print_summary", lambda s, o: None)
    monkeypatch.setattr(preflight, "run", lambda *a: steps.append("preflight"))
    assert stack.main(["deploy"]) == 0
    assert "preflight" not in steps and steps[-1] == "apply"
