"""Deploy preflight on TARGET=aws: ask the account and region whether the stack can be created, before
anything is created. `tools/stack.py deploy` runs it after synth and before `terraform init`/`apply`; it
never runs in synth, scan, plan or the tests (they use botocore's Stubber), and never on the local target.

What it asks, read-only:
  versions     DMS: DescribeOrderableReplicationInstances lists DMS_ENGINE_VERSION for DMS_INSTANCE_CLASS.
               Aurora: DescribeDBEngineVersions knows DB_ENGINE_VERSION (available), and
               DescribeOrderableDBInstanceOptions offers db.serverless for it. The release tables in
               lib/config.py document dates; AWS itself decides.
  zones        DescribeAvailabilityZones: every AVAILABILITY_ZONE_IDS zone is an available zone of the region.
  zone         GetHostedZone: HOSTED_ZONE_ID exists, is named HOSTED_ZONE_NAME and, for an internet-facing
               ALB, is public (clients on the internet cannot resolve a private zone).
  dms roles    GetRole: dms-vpc-role and dms-cloudwatch-logs-role exist (when the stack does not create them).
  concurrency  GetAccountSettings and GetFunctionConcurrency: the functions' reserved concurrency leaves at
               least 100 unreserved; this stack's own current reservations count as free (a redeploy
               replaces them).

The first problem found stops the deploy with one line (exit 2).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lib.config import Settings

DMS_SERVICE_ROLES = {
    "dms-vpc-role": "service-role/AmazonDMSVPCManagementRole",
    "dms-cloudwatch-logs-role": "service-role/AmazonDMSCloudWatchLogsRole",
}
AURORA_ENGINE = "aurora-postgresql"
SERVERLESS_V2_CLASS = "db.serverless"
# Lambda keeps this much of the account's concurrency unreserved; a reservation that would go below it fails.
# https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html
MINIMUM_UNRESERVED_CONCURRENCY = 100

Clients = Callable[[str], Any]


class PreflightError(Exception):
    """The account or region cannot take the stack as configured; the message says what to change."""


@dataclass(frozen=True)
class Reservation:
    function_name: str
    reserved: int


def aws_clients(settings: Settings) -> Clients:
    """boto3 clients for the stack's region with the default credential chain (never on the local target)."""
    import boto3  # noqa: PLC0415 - only a TARGET=aws deploy needs it

    session = boto3.session.Session(region_name=settings.aws_region)
    return session.client


def reservations(synthesized: dict) -> list[Reservation]:
    """Each function of the synthesized stack that reserves concurrency, and how much."""
    found = []
    for body in synthesized.get("resource", {}).get("aws_lambda_function", {}).values():
        reserved = body.get("reserved_concurrent_executions")
        if isinstance(reserved, int) and reserved > 0:
            found.append(Reservation(body["function_name"], reserved))
    return sorted(found, key=lambda reservation: reservation.function_name)


# --- the checks ----------------------------------------------------------------------------


def check_dms_version(settings: Settings, clients: Clients) -> None:
    pages = clients("dms").get_paginator("describe_orderable_replication_instances").paginate()
    offered = [
        item
        for page in pages
        for item in page.get("OrderableReplicationInstances", [])
        if item.get("ReplicationInstanceClass") == settings.dms_instance_class
    ]
    versions = sorted({item.get("EngineVersion") for item in offered if item.get("EngineVersion")})
    if not offered:
        raise PreflightError(
            f"DMS_INSTANCE_CLASS={settings.dms_instance_class} cannot be ordered in "
            f"{settings.aws_region} (DescribeOrderableReplicationInstances): choose a class it lists"
        )
    if settings.dms_engine_version not in versions:
        raise PreflightError(
            f"DMS_ENGINE_VERSION={settings.dms_engine_version} can no longer be created with "
            f"{settings.dms_instance_class} in {settings.aws_region}; AWS offers "
            f"{', '.join(versions)}: choose one of them (and update DMS_RELEASES in lib/config.py)"
        )


def check_aurora_version(settings: Settings, clients: Clients) -> None:
    rds, version = clients("rds"), settings.db_engine_version
    known = rds.describe_db_engine_versions(Engine=AURORA_ENGINE, EngineVersion=version).get("DBEngineVersions", [])
    if not [item for item in known if item.get("Status", "available") == "available"]:
        state = f"is {known[0]['Status']}" if known else "does not exist"
        raise PreflightError(
            f"DB_ENGINE_VERSION={version} {state} for {AURORA_ENGINE} in {settings.aws_region} "
            "(DescribeDBEngineVersions): choose an available version"
        )
    options = rds.describe_orderable_db_instance_options(
        Engine=AURORA_ENGINE, EngineVersion=version, DBInstanceClass=SERVERLESS_V2_CLASS, MaxRecords=20
    )
    if not options.get("OrderableDBInstanceOptions"):
        raise PreflightError(
            f"DB_ENGINE_VERSION={version} offers no Serverless v2 ({SERVERLESS_V2_CLASS}) "
            f"instances in {settings.aws_region} (DescribeOrderableDBInstanceOptions): choose a "
            "version that does"
        )


def check_zones(settings: Settings, clients: Clients) -> None:
    from botocore.exceptions import ClientError  # noqa: PLC0415

    wanted = list(settings.availability_zone_ids or ())
    try:
        zones = clients("ec2").describe_availability_zones(ZoneIds=wanted, AllAvailabilityZones=True)
    except ClientError as error:
        raise PreflightError(
            f"AVAILABILITY_ZONE_IDS={','.join(wanted)}: {settings.aws_region} refuses them "
            f"({error.response['Error'].get('Message', error)}): use zone ids that "
            "`aws ec2 describe-availability-zones` lists"
        ) from None
    states = {zone["ZoneId"]: zone.get("State") for zone in zones.get("AvailabilityZones", [])}
    unavailable = [zone_id for zone_id in wanted if states.get(zone_id) != "available"]
    if unavailable:
        raise PreflightError(
            f"AVAILABILITY_ZONE_IDS: {', '.join(unavailable)} "
            f"{'is' if len(unavailable) == 1 else 'are'} not an available zone of "
            f"{settings.aws_region} in this account: choose zones that are"
        )


def check_hosted_zone(settings: Settings, clients: Clients) -> None:
    if not settings.hosted_zone_id:
        return
    route53 = clients("route53")
    try:
        zone = route53.get_hosted_zone(Id=settings.hosted_zone_id)["HostedZone"]
    except route53.exceptions.NoSuchHostedZone:
        raise PreflightError(
            f"HOSTED_ZONE_ID={settings.hosted_zone_id}: no such hosted zone in this account: use the id that "
            "`aws route53 list-hosted-zones-by-name` shows for HOSTED_ZONE_NAME"
        ) from None
    actual_name = zone["Name"].rstrip(".").lower()  # settings hold the name already lower-case, without the dot
    if actual_name != settings.hosted_zone_name:
        raise PreflightError(
            f"HOSTED_ZONE_ID={settings.hosted_zone_id} is the zone {actual_name}, not "
            f"HOSTED_ZONE_NAME={settings.hosted_zone_name}: set the name of that zone, or the id of the named one"
        )
    if zone.get("Config", {}).get("PrivateZone") and not settings.alb_internal:
        raise PreflightError(
            f"HOSTED_ZONE_ID={settings.hosted_zone_id} ({actual_name}) is a private zone, and clients on the "
            "internet cannot resolve it for an internet-facing ALB: use a public zone, or ALB_INTERNAL=true"
        )


def check_dms_service_roles(settings: Settings, clients: Clients) -> None:
    if settings.create_dms_service_roles:
        return
    iam = clients("iam")
    for name, policy in DMS_SERVICE_ROLES.items():
        try:
            iam.get_role(RoleName=name)
        except iam.exceptions.NoSuchEntityException:
            raise PreflightError(
                f"{name} does not exist in this account, and DMS needs it by that name: create it once for the "
                f"account (trusting dms.amazonaws.com, with the managed policy {policy}; see README, "
                '"Real AWS"), or deploy one stack with CREATE_DMS_SERVICE_ROLES=true'
            ) from None


def _current_reservation(lambda_client: Any, function_name: str) -> int:
    try:
        return lambda_client.get_function_concurrency(FunctionName=function_name).get("ReservedConcurrentExecutions", 0)
    except lambda_client.exceptions.ResourceNotFoundException:
        return 0


def check_concurrency(settings: Settings, clients: Clients, synthesized: dict) -> None:
    planned = reservations(synthesized)
    if not planned:
        return
    lambda_client = clients("lambda")
    limit = lambda_client.get_account_settings()["AccountLimit"]
    own = sum(_current_reservation(lambda_client, item.function_name) for item in planned)
    unreserved_now = limit["UnreservedConcurrentExecutions"] + own  # this stack's own reservations are free
    wanted = sum(item.reserved for item in planned)
    left = unreserved_now - wanted
    if left < MINIMUM_UNRESERVED_CONCURRENCY:
        detail = ", ".join(f"{item.function_name} {item.reserved}" for item in planned)
        raise PreflightError(
            f"the functions reserve {wanted} concurrent executions ({detail}), but {settings.aws_region} has "
            f"{unreserved_now} unreserved of the account's {limit['ConcurrentExecutions']} (this stack's own "
            f"reservations counted as free): {left} would remain and Lambda keeps at least "
            f"{MINIMUM_UNRESERVED_CONCURRENCY}; lower PAYMENT_API_RESERVED_CONCURRENCY or set it to off, or ask AWS "
            "for a higher concurrency quota"
        )


def checks(settings: Settings, clients: Clients, synthesized: dict) -> Iterator[Callable[[], None]]:
    yield lambda: check_dms_version(settings, clients)
    yield lambda: check_aurora_version(settings, clients)
    yield lambda: check_zones(settings, clients)
    yield lambda: check_hosted_zone(settings, clients)
    yield lambda: check_dms_service_roles(settings, clients)
    yield lambda: check_concurrency(settings, clients, synthesized)


def run(settings: Settings, synthesized_file: Path, clients: Clients | None = None) -> None:
    """Every check in order; raises PreflightError at the first problem. TARGET=aws only."""
    if settings.target != "aws":
        raise ValueError("the preflight asks a real account; the local target has none")
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

    synthesized = json.loads(synthesized_file.read_text(encoding="utf-8"))
    clients = clients or aws_clients(settings)
    for check in checks(settings, clients, synthesized):
        try:
            check()
        except ClientError as error:
            problem = error.response.get("Error", {})
            raise PreflightError(
                f"the preflight could not ask AWS in {settings.aws_region}: "
                f"{problem.get('Code', 'error')}: {problem.get('Message', error)} (it needs read "
                "access to DMS, RDS, EC2, Route53, IAM and Lambda)"
            ) from None
        except BotoCoreError as error:
            raise PreflightError(f"the preflight could not ask AWS in {settings.aws_region}: {error}") from None
    print(
        f"preflight: {settings.aws_region} can take {settings.stack_name} (versions, zones, hosted zone, DMS roles, "
        "Lambda concurrency)",
        flush=True,
    )
