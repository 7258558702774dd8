"""Bare stacks for construct tests: one AwsProvider, the construct under test and what it takes.

A test module declares the variants of its construct when it is imported
(`declare_varying("dns", {"new_only": {}, "legacy_ip": {...}})`): the inputs each variant
changes, over small test values for everything else. The session's `construct_variants`
fixture builds every declared variant in one VariantStack (each upstream once, one synth
with cdktf Testing, in-process) and hands each variant a view of what a stack of its own
would hold. `upstream(stack, through=...)` and `built_through` build a stack of their own,
for the tests that need one.
"""

from __future__ import annotations

import itertools
from types import SimpleNamespace

from cdktf import TerraformStack, Testing
from cdktf_cdktf_provider_aws.provider import AwsProvider

from lib.config import ROUTE53_METRICS_REGION
from lib.constructs.alerting import Alerting
from lib.constructs.compute import Compute
from lib.constructs.connectivity import Connectivity
from lib.constructs.cutover import Cutover
from lib.constructs.database import Database
from lib.constructs.dns import Dns
from lib.constructs.load_balancer import LoadBalancer
from lib.constructs.migration import Migration
from lib.constructs.monitoring import Monitoring
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


def _monitoring(stack, built, construct_id, **inputs):
    built.monitoring = Monitoring(
        stack,
        construct_id,
        alerting=built.alerting,
        database=built.database,
        migration=built.migration,
        compute=built.compute,
        load_balancer=built.load_balancer,
        dns=built.dns,
        cutover=built.cutover,
        **{
            "name_prefix": PREFIX,
            "region": REGION,
            "route53_metrics_region": ROUTE53_METRICS_REGION,
            "cdc_latency_threshold_seconds": 120,
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
    "monitoring": _monitoring,
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


Variants = dict[str, dict[str, dict]]  # variant name -> {construct: inputs}
Views = dict[str, tuple[SimpleNamespace, Synthesized]]  # variant name -> (its constructs, what it synthesizes)

# The variant sets test modules declare when they are imported (declare_variants); the session's
# `construct_variants` fixture (conftest.py) builds them all at once.
DECLARED: dict[str, tuple[str, Variants]] = {}


class VariantStack:
    """Variant sets built in one bare stack and synthesized once.

    What the variants build alike is built once and shared: a variant builds its own copies, under
    the id `<construct>_<set>_<variant>`, from the first construct its inputs change. Each variant's
    Synthesized holds what a stack of its own would: the constructs it uses and what the stack itself
    holds (the provider, shared data sources), not the other variants' copies. Building each upstream
    once, not per test or per test file, is most of what keeps the construct tests cheap.
    """

    def __init__(self, sets: dict[str, tuple[str, Variants]], *, region: str = REGION):
        self.stack = bare_stack(region)
        self._shared = SimpleNamespace()
        self._ids: dict[int, str] = {}  # id() of each construct built here -> its construct id
        built = {
            (set_name, variant): self._build(f"{set_name}_{variant}", through, inputs)
            for set_name, (through, variants) in sets.items()
            for variant, inputs in variants.items()
        }
        synthesized = synth(self.stack)
        owners = synthesized.top_level_owners()
        self.views: dict[str, Views] = {set_name: {} for set_name in sets}
        for (set_name, variant), constructs in built.items():
            its_own = {id(construct) for construct in vars(constructs).values()}
            others = {construct_id for key, construct_id in self._ids.items() if key not in its_own}
            self.views[set_name][variant] = (constructs, synthesized.without(others, owners))
        self._attempts = itertools.count(1)

    def _add(self, built: SimpleNamespace, name: str, construct_id: str, **inputs: object) -> None:
        BUILDERS[name](self.stack, built, construct_id, **inputs)
        self._ids[id(getattr(built, name))] = construct_id

    def _shared_through(self, names: list[str]) -> SimpleNamespace:
        for name in names:
            if not hasattr(self._shared, name):
                self._add(self._shared, name, CONSTRUCT_IDS.get(name, name))
        return SimpleNamespace(**{name: getattr(self._shared, name) for name in names})

    def _build(self, label: str, through: str, inputs: dict) -> SimpleNamespace:
        names = _constructs_through(through, inputs)
        first_changed = min((names.index(name) for name in inputs), default=len(names))
        built = self._shared_through(names[:first_changed])
        for name in names[first_changed:]:
            self._add(built, name, f"{name}_{label}", **inputs.get(name, {}))
        return built

    def refused(self, construct: str, **inputs: object) -> object:
        """Builds `construct` with inputs it should refuse, on the shared upstream, after the synth: what a
        refused construct leaves half built is never read."""
        names = list(BUILDERS)
        built = self._shared_through(names[: names.index(construct)])
        BUILDERS[construct](self.stack, built, f"{construct}_refused_{next(self._attempts)}", **inputs)
        return getattr(built, construct)


def declare_variants(set_name: str, through: str, variants: Variants) -> str:
    """Registers a variant set for the session's VariantStack; returns the name to look its views up by."""
    if set_name in DECLARED:
        raise ValueError(f"variant set {set_name!r} is declared twice")
    for inputs in variants.values():
        _constructs_through(through, inputs)  # bad inputs fail when the module is imported
    DECLARED[set_name] = (through, variants)
    return set_name


def declare_varying(construct: str, inputs_by_variant: dict[str, dict]) -> str:
    """declare_variants of `construct` where each variant changes only `construct`'s own inputs."""
    return declare_variants(construct, construct, {variant: {construct: i} for variant, i in inputs_by_variant.items()})


def built_variants(through: str, variants: Variants, *, region: str = REGION) -> Views:
    """built_through(through, **inputs) for each variant's inputs, all in one VariantStack of their own."""
    return VariantStack({"own": (through, variants)}, region=region).views["own"]
