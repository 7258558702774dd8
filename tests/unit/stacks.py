"""Bare stacks for construct tests: one AwsProvider, the construct under test and what it takes.

`upstream(stack, through=...)` builds the constructs a construct takes as inputs, in the
stack's order, with small test values; the test then builds its own construct with the
inputs it wants to vary and synthesizes with `synth(stack)` (cdktf Testing, in-process).
"""

from __future__ import annotations

from types import SimpleNamespace

from cdktf import TerraformStack, Testing
from cdktf_cdktf_provider_aws.provider import AwsProvider

from lib.constructs.alerting import Alerting
from lib.constructs.compute import Compute
from lib.constructs.connectivity import Connectivity
from lib.constructs.cutover import Cutover
from lib.constructs.database import Database
from lib.constructs.dns import Dns
from lib.constructs.load_balancer import LoadBalancer
from lib.constructs.migration import Migration
from lib.constructs.network import Network
from lib.constructs.security_groups import SecurityGroups
from lib.constructs.security_keys import SecurityKeys
from tests.unit.synthesized import Synthesized

PREFIX = "payments-test"
ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
VPC_CIDR = "10.40.0.0/16"
ONPREM_CIDR = "192.168.0.0/16"
ZONE_IDS = ("use1-az6", "use1-az1", "use1-az2")
METRIC_NAMESPACE = "PaymentsMigration/test"
CUTOVER_STATE_ARN = f"arn:aws:ssm:{REGION}:{ACCOUNT_ID}:parameter/{PREFIX}/cutover/state"


def bare_stack(region: str = REGION) -> TerraformStack:
    stack = TerraformStack(Testing.app(), "test")
    AwsProvider(stack, "aws", region=region)
    return stack


def synth(stack: TerraformStack) -> Synthesized:
    return Synthesized(Testing.synth(stack), stack)


def _keys(stack, built, **inputs):
    built.keys = SecurityKeys(
        stack,
        "security_keys",
        **{
            "name_prefix": PREFIX,
            "account_id": ACCOUNT_ID,
            "partition": "aws",
            "region": REGION,
            "deletion_window_days": 7,
            "topic_publishers": ("cloudwatch", "dms"),
            **inputs,
        },
    )


def _network(stack, built, **inputs):
    built.network = Network(
        stack,
        "network",
        keys=built.keys,
        **{
            "name_prefix": PREFIX,
            "vpc_cidr": VPC_CIDR,
            "availability_zone_ids": ZONE_IDS,
            "nat_gateway_count": 1,
            "flow_log_retention_days": 365,
            "account_id": ACCOUNT_ID,
            "partition": "aws",
            "region": REGION,
            **inputs,
        },
    )


def _connectivity(stack, built, **inputs):
    built.connectivity = Connectivity(
        stack,
        "connectivity",
        network=built.network,
        **{
            "name_prefix": PREFIX,
            "onprem_cidr": ONPREM_CIDR,
            "customer_gateway_ip": None,
            "customer_gateway_asn": 65000,
            "static_routes": True,
            "transit_gateway_id": None,
            "dns_domain": None,
            "dns_servers": (),
            **inputs,
        },
    )


def _security_groups(stack, built, **inputs):
    built.security_groups = SecurityGroups(
        stack,
        "security_groups",
        network=built.network,
        **{
            "name_prefix": PREFIX,
            "onprem_cidr": ONPREM_CIDR,
            "onprem_db_port": 5432,
            "alb_listener_ports": (80,),
            "alb_internal": False,
            **inputs,
        },
    )


def _alerting(stack, built, **inputs):
    built.alerting = Alerting(
        stack,
        "alerting",
        keys=built.keys,
        **{
            "name_prefix": PREFIX,
            "alarm_email": None,
            "account_id": ACCOUNT_ID,
            "partition": "aws",
            "region": REGION,
            **inputs,
        },
    )


def _database(stack, built, **inputs):
    built.database = Database(
        stack,
        "database",
        network=built.network,
        security_groups=built.security_groups,
        keys=built.keys,
        **{
            "name_prefix": PREFIX,
            "engine_version": "15.8",
            "database_name": "payments",
            "min_acu": 0.5,
            "max_acu": 2.0,
            "reader_count": 1,
            "backup_retention_days": 35,
            "deletion_protection": False,
            "final_snapshot": False,
            "log_retention_days": 365,
            "partition": "aws",
            **inputs,
        },
    )


def _migration(stack, built, **inputs):
    built.migration = Migration(
        stack,
        "migration",
        network=built.network,
        security_groups=built.security_groups,
        keys=built.keys,
        database=built.database,
        **{
            "name_prefix": PREFIX,
            "instance_class": "dms.t3.medium",
            "engine_version": "3.6.1",
            "allocated_storage": 50,
            "multi_az": False,
            "create_service_roles": True,
            "source_host": "192.168.0.10",
            "source_port": 5432,
            "source_database": "payments",
            "source_secret_arn": None,
            "table_patterns": ("public.%",),
            "secret_recovery_window_days": 7,
            "log_retention_days": 365,
            "account_id": ACCOUNT_ID,
            "partition": "aws",
            **inputs,
        },
    )


def _compute(stack, built, **inputs):
    built.compute = Compute(
        stack,
        "compute",
        network=built.network,
        security_groups=built.security_groups,
        keys=built.keys,
        alerting=built.alerting,
        database=built.database,
        migration=built.migration,
        **{
            "name_prefix": PREFIX,
            "reserved_concurrency": 50,
            "client_identity": "header",
            "secret_recovery_window_days": 0,
            "log_retention_days": 365,
            "cutover_state_arn": CUTOVER_STATE_ARN,
            "cutover_state_parameter": f"/{PREFIX}/cutover/state",
            **inputs,
        },
    )


def _load_balancer(stack, built, **inputs):
    built.load_balancer = LoadBalancer(
        stack,
        "load_balancer",
        network=built.network,
        security_groups=built.security_groups,
        keys=built.keys,
        compute=built.compute,
        **{
            "name_prefix": PREFIX,
            "internal": False,
            "certificate_arn": None,
            "deletion_protection": False,
            "access_log_retention_days": 365,
            "waf_log_retention_days": 365,
            "account_id": ACCOUNT_ID,
            "partition": "aws",
            "region": REGION,
            **inputs,
        },
    )


def _dns(stack, built, **inputs):
    built.dns = Dns(
        stack,
        "dns",
        network=built.network,
        load_balancer=built.load_balancer,
        **{
            "name_prefix": PREFIX,
            "region": REGION,
            "zone_name": "payments-test.internal",
            "existing_zone_id": None,
            "record_label": "api",
            "new_weight": 100,
            "legacy_endpoint": None,
            "legacy_ips": (),
            "health_checked_ips": (),
            "destroyable": True,
            **inputs,
        },
    )


def _cutover(stack, built, **inputs):
    built.cutover = Cutover(
        stack,
        "cutover",
        network=built.network,
        security_groups=built.security_groups,
        keys=built.keys,
        alerting=built.alerting,
        dns=built.dns,
        migration=built.migration,
        database=built.database,
        load_balancer=built.load_balancer,
        compute=built.compute,
        **{
            "name_prefix": PREFIX,
            "partition": "aws",
            "metric_namespace": METRIC_NAMESPACE,
            "ready_metric_name": "MigrationReady",
            "critical_alarm_prefix": f"{PREFIX}-critical-",
            "cdc_latency_threshold_seconds": 300,
            "log_retention_days": 365,
            **inputs,
        },
    )


# In the order TapStack builds them: each needs only those before it.
BUILDERS = {
    "keys": _keys,
    "network": _network,
    "connectivity": _connectivity,
    "security_groups": _security_groups,
    "alerting": _alerting,
    "database": _database,
    "migration": _migration,
    "compute": _compute,
    "load_balancer": _load_balancer,
    "dns": _dns,
    "cutover": _cutover,
}


def upstream(stack: TerraformStack, *, through: str, **inputs: dict) -> SimpleNamespace:
    """Builds every construct up to and including `through`; inputs={construct: {input: value}} overrides."""
    built = SimpleNamespace()
    names = list(BUILDERS)
    for name in names[: names.index(through) + 1]:
        BUILDERS[name](stack, built, **inputs.get(name, {}))
    return built


def built_through(construct: str, *, region: str = REGION, **inputs: dict) -> tuple[SimpleNamespace, Synthesized]:
    """A bare stack holding `construct` and what it takes, synthesized; inputs as for upstream()."""
    stack = bare_stack(region)
    return upstream(stack, through=construct, **inputs), synth(stack)
