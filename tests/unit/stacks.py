"""Bare stacks for construct tests: one AwsProvider, the construct under test and what it takes.

`upstream(stack, through=...)` builds the constructs a construct takes as inputs, in the
stack's order, with small test values; the test then builds its own construct with the
inputs it wants to vary and synthesizes with `synth(stack)` (cdktf Testing, in-process).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
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


def _keys(stack, built, construct_id, **inputs):
    built.keys = SecurityKeys(
        stack,
        construct_id,
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


def _network(stack, built, construct_id, **inputs):
    built.network = Network(
        stack,
        construct_id,
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


def _connectivity(stack, built, construct_id, **inputs):
    built.connectivity = Connectivity(
        stack,
        construct_id,
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


def _security_groups(stack, built, construct_id, **inputs):
    built.security_groups = SecurityGroups(
        stack,
        construct_id,
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


def _alerting(stack, built, construct_id, **inputs):
    built.alerting = Alerting(
        stack,
        construct_id,
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


def _database(stack, built, construct_id, **inputs):
    built.database = Database(
        stack,
        construct_id,
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


def _migration(stack, built, construct_id, **inputs):
    built.migration = Migration(
        stack,
        construct_id,
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


def _compute(stack, built, construct_id, **inputs):
    built.compute = Compute(
        stack,
        construct_id,
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


def _load_balancer(stack, built, construct_id, **inputs):
    built.load_balancer = LoadBalancer(
        stack,
        construct_id,
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


def _dns(stack, built, construct_id, **inputs):
    built.dns = Dns(
        stack,
        construct_id,
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


def _cutover(stack, built, construct_id, **inputs):
    built.cutover = Cutover(
        stack,
        construct_id,
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


# The id of each construct as TapStack names it, where it differs from its name here.
CONSTRUCT_IDS = {"keys": "security_keys"}


def _constructs_through(through: str, inputs: dict) -> list[str]:
    names = list(BUILDERS)
    if through not in names:
        raise ValueError(f"through={through!r} is not a construct these stacks build; one of {', '.join(names)}")
    built_names = names[: names.index(through) + 1]
    if unknown := sorted(set(inputs) - set(built_names)):
        raise ValueError(f"inputs for {', '.join(unknown)}, which a stack built through {through!r} does not hold")
    return built_names


def upstream(stack: TerraformStack, *, through: str, **inputs: dict) -> SimpleNamespace:
    """Builds every construct up to and including `through`; inputs={construct: {input: value}} overrides."""
    built = SimpleNamespace()
    for name in _constructs_through(through, inputs):
        BUILDERS[name](stack, built, CONSTRUCT_IDS.get(name, name), **inputs.get(name, {}))
    return built


def built_through(construct: str, *, region: str = REGION, **inputs: dict) -> tuple[SimpleNamespace, Synthesized]:
    """A bare stack holding `construct` and what it takes, synthesized; inputs as for upstream()."""
    stack = bare_stack(region)
    return upstream(stack, through=construct, **inputs), synth(stack)


def built_variants(
    through: str, variants: dict[str, dict[str, dict]], *, region: str = REGION
) -> dict[str, tuple[SimpleNamespace, Synthesized]]:
    """built_through(through, **inputs) for each variant's inputs, all in one stack synthesized once.

    What the variants build alike is built once and shared: a variant builds its own copies, under
    the id `<construct>_<variant>`, from the first construct its inputs change. Each variant's
    Synthesized holds what a stack of its own would: the constructs it uses and what the stack
    itself holds (the provider, shared data sources), not the other variants' copies.
    """
    stack = bare_stack(region)
    shared = SimpleNamespace()
    per_variant: dict[str, SimpleNamespace] = {}
    for variant, inputs in variants.items():
        names = _constructs_through(through, inputs)
        first_changed = min((names.index(name) for name in inputs), default=len(names))
        for name in names[:first_changed]:
            if not hasattr(shared, name):
                BUILDERS[name](stack, shared, CONSTRUCT_IDS.get(name, name))
        built = SimpleNamespace(**{name: getattr(shared, name) for name in names[:first_changed]})
        for name in names[first_changed:]:
            BUILDERS[name](stack, built, f"{name}_{variant}", **inputs.get(name, {}))
        per_variant[variant] = built
    synthesized = synth(stack)
    owners = synthesized.top_level_owners()
    ids = {id(c): c.node.id for built in (shared, *per_variant.values()) for c in vars(built).values()}
    views = {}
    for variant, built in per_variant.items():
        its_own = {id(construct) for construct in vars(built).values()}
        others = {construct_id for key, construct_id in ids.items() if key not in its_own}
        views[variant] = (built, synthesized.without(others, owners))
    return views


def varying(construct: str, inputs_by_variant: dict[str, dict], *, region: str = REGION) -> dict:
    """built_variants of `construct` where each variant changes only `construct`'s own inputs."""
    variants = {variant: {construct: inputs} for variant, inputs in inputs_by_variant.items()}
    return built_variants(construct, variants, region=region)


def refusing(construct: str, *, region: str = REGION) -> Callable[..., object]:
    """For tests of inputs `construct` refuses: builds its upstream once, in a stack that is never
    synthesized, and returns a function that builds `construct` there with the given inputs (a new
    id each call). A refused construct raises before synth, so what it leaves half built is never read."""
    stack = bare_stack(region)
    names = list(BUILDERS)
    built = upstream(stack, through=names[names.index(construct) - 1]) if names.index(construct) else SimpleNamespace()
    attempts = itertools.count(1)

    def build(**inputs: object) -> object:
        attempt = SimpleNamespace(**vars(built))
        BUILDERS[construct](stack, attempt, f"{construct}_attempt_{next(attempts)}", **inputs)
        return getattr(attempt, construct)

    return build
