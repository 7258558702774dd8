"""Local AWS emulator: moto server, pinned and patched, on 127.0.0.1 only.

    python -m tools.local_aws start  [--port 4566] [--pidfile build/moto.pid] [--log build/moto.log]
                                     [--idle-timeout 3600]
    python -m tools.local_aws stop   [--pidfile build/moto.pid]
    python -m tools.local_aws status [--port 4566] [--pidfile build/moto.pid]
    python -m tools.local_aws serve  [--port 4566] [--idle-timeout 3600] [--pidfile FILE]

`start` launches `serve` as a detached process, waits until it answers HTTP and
writes the pidfile; `serve` runs in the foreground and stops itself after
`--idle-timeout` seconds without a request. moto 5.2.5 has gaps that break
`terraform apply` or leave perpetual diffs for our stack
(docs/local-emulator.md); `serve` patches them at runtime, after
checking that moto is exactly the pinned version and that every internal it
patches is where expected. It refuses to start otherwise.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import inspect
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

HOST = "127.0.0.1"
MOTO_VERSION = "5.2.5"
DEFAULT_PORT = 4566
DEFAULT_IDLE_TIMEOUT = 3600
START_TIMEOUT = 30.0
STOP_GRACE = 10.0
PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Every moto internal the patches below touch: dotted path -> "property", "class",
# or the parameter names a function must still accept.
PROPERTY, CLASS = "property", "class"
REQUIRED_INTERNALS: dict[str, Any] = {
    "moto.dms.models.FakeReplicationInstance.to_dict": (),
    "moto.dms.models.FakeReplicationTask.to_dict": (),
    "moto.dms.models.FakeReplicationTask.ready": (),
    "moto.dms.models.Endpoint.to_dict": (),
    "moto.dms.models.FakeReplicationSubnetGroup.to_dict": (),
    "moto.dms.models.FakeConnection.to_dict": (),
    "moto.dms.models.DatabaseMigrationServiceBackend.__init__": ("region_name", "account_id"),
    "moto.dms.models.DatabaseMigrationServiceBackend.describe_replication_tasks": (),
    "moto.dms.models.DatabaseMigrationServiceBackend.create_replication_subnet_group": (
        "replication_subnet_group_identifier",
        "replication_subnet_group_description",
        "subnet_ids",
        "tags",
    ),
    "moto.dms.models.DatabaseMigrationServiceBackend.delete_replication_subnet_group": (
        "replication_subnet_group_identifier",
    ),
    "moto.dms.models.dms_backends": (),
    "moto.dms.exceptions.DmsClientError": CLASS,
    "moto.dms.exceptions.ResourceNotFoundFault": CLASS,
    "moto.dms.exceptions.ResourceAlreadyExistsFault": CLASS,
    "moto.dms.responses.DatabaseMigrationServiceResponse": CLASS,
    "moto.ec2.models.ec2_backends": (),
    "moto.utilities.tagging_service.TaggingService.tag_resource": ("arn", "tags"),
    "moto.utilities.tagging_service.TaggingService.delete_all_tags_for_resource": ("arn",),
    "moto.utilities.tagging_service.TaggingService.untag_resource_using_names": ("arn", "tag_names"),
    "moto.utilities.utils.get_partition": (),
    "moto.rds.models.DBCluster.__init__": ("backend",),
    "moto.rds.models.DBCluster.enable_http_endpoint": PROPERTY,
    "moto.rds.models.DBCluster.http_endpoint_enabled": PROPERTY,
    "moto.rds.models.DBCluster.scaling_configuration_info": PROPERTY,
    "moto.rds.models.DBInstance.__init__": ("backend",),
    "moto.rds.models.RDSBackend.describe_db_clusters": ("db_cluster_identifier",),
    "moto.rds.responses.RDSResponse": CLASS,
    "moto.core.responses.ActionResult": CLASS,
    "moto.route53.responses.Route53.create_hosted_zone": (),
    "moto.ec2.models.security_groups.SecurityGroupRule.description": PROPERTY,
    "moto.elbv2.models.ELBv2Backend.create_load_balancer": ("scheme",),
    "moto.awslambda.models.LambdaFunction.__init__": ("account_id", "spec", "region"),
    "moto.awslambda.models.LambdaFunction.get_configuration": ("on_create",),
    "moto.awslambda.models.LambdaFunction.update_configuration": ("config_updates",),
    "moto.s3.responses.S3Response.get_bucket_notification": (),
    "moto.s3.models.S3Backend.get_bucket_notification_configuration": ("bucket_name",),
    "moto.s3.models.NotificationConfiguration.__init__": ("event_bridge",),
    "moto.core.responses.BaseResponse.serialized": ("action_result",),
    "moto.moto_server.werkzeug_app.DomainDispatcherApplication": CLASS,
    "moto.moto_server.werkzeug_app.MotoRequestHandler": CLASS,
    "moto.moto_server.werkzeug_app.create_backend_app": (),
}

# What the patches add must not exist in moto yet, or they would shadow it.
MUST_BE_ABSENT = (
    "moto.rds.responses.RDSResponse.enable_http_endpoint",
    "moto.rds.responses.RDSResponse.disable_http_endpoint",
    "moto.dms.responses.DatabaseMigrationServiceResponse.modify_replication_subnet_group",
    "moto.dms.models.DatabaseMigrationServiceBackend.modify_replication_subnet_group",
    *(
        f"moto.dms.{layer}.{name}"
        for layer in ("models.DatabaseMigrationServiceBackend", "responses.DatabaseMigrationServiceResponse")
        for name in (
            "create_event_subscription",
            "describe_event_subscriptions",
            "modify_event_subscription",
            "delete_event_subscription",
            "add_tags_to_resource",
            "remove_tags_from_resource",
        )
    ),
)


class EmulatorError(RuntimeError):
    """A problem the user must act on; its message is printed as is."""


# --------------------------------------------------------------------------- checks


def _resolve(dotted: str) -> Any:
    """The object at `dotted` (module path, then attributes), looked up without running descriptors."""
    parts = dotted.split(".")
    for split in range(len(parts), 0, -1):
        try:
            found: Any = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for name in parts[split:]:
            found = inspect.getattr_static(found, name)
        return found
    raise ImportError(dotted)


def _internal_problem(dotted: str, expected: Any) -> str | None:
    try:
        found = _resolve(dotted)
    except (ImportError, AttributeError):
        return f"{dotted} is missing"
    if expected == PROPERTY and not isinstance(found, property):
        return f"{dotted} is no longer a property"
    if expected == CLASS and not inspect.isclass(found):
        return f"{dotted} is no longer a class"
    if isinstance(expected, tuple) and expected:
        if not callable(found):
            return f"{dotted} is no longer callable"
        missing = [p for p in expected if p not in inspect.signature(found).parameters]
        if missing:
            return f"{dotted} no longer takes {', '.join(missing)}"
    return None


def check_moto(
    version: str | None = None,
    internals: dict[str, Any] | None = None,
    must_be_absent: tuple[str, ...] = MUST_BE_ABSENT,
) -> None:
    """Raise EmulatorError unless moto is exactly MOTO_VERSION with every patched internal in place."""
    version = version if version is not None else importlib.metadata.version("moto")
    if version != MOTO_VERSION:
        raise EmulatorError(
            f"local AWS emulator refuses to start: moto {version} is installed, but its "
            f"runtime patches are written for moto {MOTO_VERSION} exactly "
            f"(install moto[server]=={MOTO_VERSION} as pinned in the Pipfile)."
        )
    internals = REQUIRED_INTERNALS if internals is None else internals
    problems = [p for d, e in internals.items() if (p := _internal_problem(d, e))]
    problems += [f"{d} already exists" for d in must_be_absent if _internal_problem(d, ()) is None]
    if problems:
        raise EmulatorError(
            "local AWS emulator refuses to start: moto internals are not where its "
            "runtime patches expect them: " + "; ".join(problems) + "."
        )


# --------------------------------------------------------------------------- patches


def _wrap(owner: Any, name: str, make: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
    """Replace owner.name by make(original)."""
    setattr(owner, name, make(getattr(owner, name)))


def _dms_timestamp_fields() -> frozenset[str]:
    """Names of every timestamp member in botocore's DMS service model."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("dms")
    return frozenset(
        member
        for shape in map(model.shape_for, model.shape_names)
        if shape.type_name == "structure"
        for member, member_shape in shape.members.items()
        if member_shape.type_name == "timestamp"
    )


def _iso_to_epoch(value: str) -> float:
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:  # moto's utcnow() is naive UTC
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def _epoch_timestamps(data: Any, fields: frozenset[str]) -> Any:
    if isinstance(data, list):
        return [_epoch_timestamps(item, fields) for item in data]
    if not isinstance(data, dict):
        return data
    return {
        key: _iso_to_epoch(value)
        if key in fields and isinstance(value, str)
        else _epoch_timestamps(value, fields)
        for key, value in data.items()
    }


def patch_dms_timestamps() -> None:
    # moto defect: DMS (a JSON protocol) returns timestamps as ISO strings; AWS SDKs require epoch numbers.
    from moto.dms import models

    fields = _dms_timestamp_fields()

    def make(to_dict: Callable[..., Any]) -> Callable[..., Any]:
        return lambda self: _epoch_timestamps(to_dict(self), fields)

    for model in (
        models.FakeReplicationInstance,
        models.FakeReplicationTask,
        models.Endpoint,
        models.FakeReplicationSubnetGroup,
        models.FakeConnection,
    ):
        _wrap(model, "to_dict", make)


def patch_dms_task_becomes_ready() -> None:
    # moto defect: new DMS tasks stay "creating" forever; FakeReplicationTask.ready() is never called.
    from moto.dms.models import DatabaseMigrationServiceBackend

    def make(describe: Callable[..., Any]) -> Callable[..., Any]:
        def describe_replication_tasks(self: Any, *args: Any, **kwargs: Any) -> Any:
            for task in self.replication_tasks.values():
                if task.status == "creating":
                    task.ready()
            return describe(self, *args, **kwargs)

        return describe_replication_tasks

    _wrap(DatabaseMigrationServiceBackend, "describe_replication_tasks", make)


def _dms_arn(backend: Any, resource_type: str, identifier: str) -> str:
    from moto.utilities.utils import get_partition

    partition = get_partition(backend.region_name)
    return f"arn:{partition}:dms:{backend.region_name}:{backend.account_id}:{resource_type}:{identifier}"


def _subnet_group_arn(backend: Any, identifier: str) -> str:
    return _dms_arn(backend, "subgrp", identifier)


def _dms_subnets(backend: Any, subnet_ids: list[str]) -> list[Any]:
    """The EC2 subnets behind subnet_ids, or DMS's InvalidSubnet fault."""
    from moto.dms.exceptions import DmsClientError
    from moto.ec2.models import ec2_backends

    ec2 = ec2_backends[backend.account_id][backend.region_name]
    known = {subnet.id: subnet for subnet in ec2.describe_subnets()}
    unknown = [subnet_id for subnet_id in subnet_ids if subnet_id not in known]
    if unknown or not subnet_ids:
        raise DmsClientError("InvalidSubnet", f"Subnets not found: {unknown or subnet_ids}")
    return [known[subnet_id] for subnet_id in subnet_ids]


def _assign_subnets(group: Any, subnets: list[Any]) -> None:
    group.subnetIds = [subnet.id for subnet in subnets]
    group.vpc_id = subnets[0].vpc_id
    group.subnet_zones = {subnet.id: subnet.availability_zone for subnet in subnets}


def _subnet_group_to_dict(self: Any) -> dict[str, Any]:
    return {
        "ReplicationSubnetGroupIdentifier": self.replication_subnet_group_identifier,
        "ReplicationSubnetGroupDescription": self.description,
        "VpcId": self.vpc_id,
        "SubnetGroupStatus": "Complete",
        "Subnets": [
            {
                "SubnetIdentifier": subnet_id,
                "SubnetAvailabilityZone": {"Name": zone},
                "SubnetStatus": "Active",
            }
            for subnet_id, zone in self.subnet_zones.items()
        ],
        "SupportedNetworkTypes": ["IPV4"],
    }


def _modify_replication_subnet_group(
    self: Any, identifier: str, description: str | None, subnet_ids: list[str] | None
) -> Any:
    from moto.dms.exceptions import ResourceNotFoundFault

    group = self.replication_subnet_groups.get(identifier)
    if group is None:
        raise ResourceNotFoundFault("Replication subnet group could not be found.")
    if subnet_ids:
        _assign_subnets(group, _dms_subnets(self, subnet_ids))
    if description is not None:
        group.description = description
    return group


def _modify_replication_subnet_group_response(self: Any) -> str:
    params = json.loads(self.body)
    group = self.dms_backend.modify_replication_subnet_group(
        params["ReplicationSubnetGroupIdentifier"],
        params.get("ReplicationSubnetGroupDescription"),
        params.get("SubnetIds"),
    )
    return json.dumps({"ReplicationSubnetGroup": group.to_dict()})


def patch_dms_subnet_group() -> None:
    # moto defect: DMS subnet groups drop SubnetIds (hard-coded subnet-12345/vpc-12345),
    # tag the identifier instead of the ...:subgrp:<name> ARN, and lack ModifyReplicationSubnetGroup.
    from moto.dms import models, responses

    def make_create(create: Callable[..., Any]) -> Callable[..., Any]:
        def create_replication_subnet_group(
            self: Any,
            replication_subnet_group_identifier: str,
            replication_subnet_group_description: str,
            subnet_ids: list[str],
            tags: list[dict[str, str]] | None = None,
        ) -> Any:
            subnets = _dms_subnets(self, subnet_ids)
            group = create(
                self, replication_subnet_group_identifier, replication_subnet_group_description, subnet_ids
            )
            _assign_subnets(group, subnets)
            if tags:
                self.tagger.tag_resource(_subnet_group_arn(self, replication_subnet_group_identifier), tags)
            return group

        return create_replication_subnet_group

    def make_delete(delete: Callable[..., Any]) -> Callable[..., Any]:
        def delete_replication_subnet_group(self: Any, replication_subnet_group_identifier: str) -> Any:
            group = delete(self, replication_subnet_group_identifier)
            self.tagger.delete_all_tags_for_resource(
                _subnet_group_arn(self, replication_subnet_group_identifier)
            )
            return group

        return delete_replication_subnet_group

    def make_instance_to_dict(to_dict: Callable[..., Any]) -> Callable[..., Any]:
        def instance_to_dict(self: Any) -> dict[str, Any]:
            data = to_dict(self)
            account_id = self.arn.split(":")[4]
            groups = models.dms_backends[account_id][self.region].replication_subnet_groups
            group = groups.get(self.replication_subnet_group_identifier)
            if group is not None:
                data["ReplicationSubnetGroup"] = group.to_dict()
            return data

        return instance_to_dict

    backend = models.DatabaseMigrationServiceBackend
    _wrap(backend, "create_replication_subnet_group", make_create)
    _wrap(backend, "delete_replication_subnet_group", make_delete)
    backend.modify_replication_subnet_group = _modify_replication_subnet_group
    responses.DatabaseMigrationServiceResponse.modify_replication_subnet_group = (
        _modify_replication_subnet_group_response
    )
    models.FakeReplicationSubnetGroup.to_dict = _subnet_group_to_dict
    _wrap(models.FakeReplicationInstance, "to_dict", make_instance_to_dict)


def _event_subscription(backend: Any, name: str) -> dict[str, Any]:
    from moto.dms.exceptions import ResourceNotFoundFault

    subscription = backend.event_subscriptions.get(name)
    if subscription is None:
        raise ResourceNotFoundFault(f"Event subscription {name} not found.")
    return subscription


def _create_event_subscription(self: Any, params: dict[str, Any]) -> dict[str, Any]:
    from moto.dms.exceptions import ResourceAlreadyExistsFault

    name = params["SubscriptionName"]
    if name in self.event_subscriptions:
        raise ResourceAlreadyExistsFault(f"Event subscription {name} already exists.")
    subscription = {
        "CustomerAwsId": self.account_id,
        "CustSubscriptionId": name,
        "SnsTopicArn": params["SnsTopicArn"],
        "Status": "active",
        # a string in botocore's model, not a timestamp
        "SubscriptionCreationTime": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3],
        "SourceType": params.get("SourceType"),
        "SourceIdsList": params.get("SourceIds") or [],
        "EventCategoriesList": params.get("EventCategories") or [],
        "Enabled": params.get("Enabled", True),
    }
    self.event_subscriptions[name] = {k: v for k, v in subscription.items() if v is not None}
    if params.get("Tags"):
        self.tagger.tag_resource(_dms_arn(self, "es", name), params["Tags"])
    return self.event_subscriptions[name]


def _describe_event_subscriptions(self: Any, params: dict[str, Any]) -> list[dict[str, Any]]:
    if params.get("SubscriptionName"):
        return [_event_subscription(self, params["SubscriptionName"])]
    subscriptions = list(self.event_subscriptions.values())
    keys = {
        "event-subscription-id": lambda s: s["CustSubscriptionId"],
        "event-subscription-arn": lambda s: _dms_arn(self, "es", s["CustSubscriptionId"]),
    }
    for event_filter in params.get("Filters") or []:
        key = keys.get(event_filter["Name"])
        if key is not None:  # unknown names are ignored, as by moto's own DMS filters
            subscriptions = [s for s in subscriptions if key(s) in event_filter["Values"]]
    return subscriptions


def _modify_event_subscription(self: Any, params: dict[str, Any]) -> dict[str, Any]:
    subscription = _event_subscription(self, params["SubscriptionName"])
    for member, param in (
        ("SnsTopicArn", "SnsTopicArn"),
        ("SourceType", "SourceType"),
        ("EventCategoriesList", "EventCategories"),
        ("Enabled", "Enabled"),
    ):
        if params.get(param) is not None:
            subscription[member] = params[param]
    return subscription


def _delete_event_subscription(self: Any, params: dict[str, Any]) -> dict[str, Any]:
    subscription = _event_subscription(self, params["SubscriptionName"])
    del self.event_subscriptions[params["SubscriptionName"]]
    self.tagger.delete_all_tags_for_resource(_dms_arn(self, "es", params["SubscriptionName"]))
    return {**subscription, "Status": "deleting"}


def _add_tags_to_resource(self: Any, params: dict[str, Any]) -> None:
    self.tagger.tag_resource(params["ResourceArn"], params["Tags"])


def _remove_tags_from_resource(self: Any, params: dict[str, Any]) -> None:
    self.tagger.untag_resource_using_names(params["ResourceArn"], params["TagKeys"])


def _dms_json_action(name: str, result_key: str | None) -> Callable[[Any], str]:
    """A DatabaseMigrationServiceResponse method passing the JSON body to the backend method `name`."""

    def action(self: Any) -> str:
        result = getattr(self.dms_backend, name)(json.loads(self.body))
        return json.dumps({result_key: result} if result_key else {})

    action.__name__ = name
    return action


def patch_dms_event_subscriptions() -> None:
    # moto defect: DMS event subscriptions (Create/Describe/Modify/DeleteEventSubscription) and
    # AddTagsToResource/RemoveTagsFromResource are not implemented.
    from moto.dms import models, responses

    def make_init(init: Callable[..., Any]) -> Callable[..., Any]:
        def __init__(self: Any, region_name: str, account_id: str) -> None:
            init(self, region_name, account_id)
            self.event_subscriptions = {}  # name -> EventSubscription as in botocore's model

        return __init__

    backend, response = models.DatabaseMigrationServiceBackend, responses.DatabaseMigrationServiceResponse
    _wrap(backend, "__init__", make_init)
    for name, implementation, result_key in (
        ("create_event_subscription", _create_event_subscription, "EventSubscription"),
        ("describe_event_subscriptions", _describe_event_subscriptions, "EventSubscriptionsList"),
        ("modify_event_subscription", _modify_event_subscription, "EventSubscription"),
        ("delete_event_subscription", _delete_event_subscription, "EventSubscription"),
        ("add_tags_to_resource", _add_tags_to_resource, None),
        ("remove_tags_from_resource", _remove_tags_from_resource, None),
    ):
        setattr(backend, name, implementation)
        setattr(response, name, _dms_json_action(name, result_key))


PERFORMANCE_INSIGHTS_PARAMS = (
    "enable_performance_insights",
    "performance_insights_kms_key_id",
    "performance_insights_retention_period",
)


def patch_rds_performance_insights() -> None:
    # moto defect: Performance Insights settings of clusters and instances are accepted, never stored or returned.
    from moto.rds.models import DBCluster, DBInstance

    def make_init(init: Callable[..., Any]) -> Callable[..., Any]:
        def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
            init(self, *args, **kwargs)
            for name in PERFORMANCE_INSIGHTS_PARAMS:  # modify_* already setattr()s these names
                if kwargs.get(name) is not None:
                    setattr(self, name, kwargs[name])

        return __init__

    def performance_insights_enabled(self: Any) -> bool:
        return bool(getattr(self, "enable_performance_insights", False))

    for model in (DBCluster, DBInstance):  # DBInstanceClustered inherits DBInstance.__init__
        _wrap(model, "__init__", make_init)
        model.performance_insights_enabled = property(performance_insights_enabled)


def patch_rds_data_api() -> None:
    # moto defect: EnableHttpEndpoint is honoured only for Serverless v1, and the
    # EnableHttpEndpoint/DisableHttpEndpoint actions are missing.
    from moto.core.responses import ActionResult
    from moto.rds.models import DBCluster
    from moto.rds.responses import RDSResponse

    def set_http_endpoint(self: Any, value: bool | None) -> None:
        self._enable_http_endpoint = bool(value) and self.engine.startswith("aurora")

    def http_endpoint_action(enabled: bool) -> Callable[[Any], Any]:
        def action(self: Any) -> Any:
            arn = self.params.get("ResourceArn")
            cluster = self.backend.describe_db_clusters(db_cluster_identifier=arn)[0]
            cluster.enable_http_endpoint = enabled
            return ActionResult({"ResourceArn": arn, "HttpEndpointEnabled": cluster.http_endpoint_enabled})

        return action

    DBCluster.enable_http_endpoint = DBCluster.enable_http_endpoint.setter(set_http_endpoint)
    RDSResponse.enable_http_endpoint = http_endpoint_action(True)
    RDSResponse.disable_http_endpoint = http_endpoint_action(False)


def patch_rds_scaling_configuration() -> None:
    # moto defect: an empty ScalingConfigurationInfo is returned for clusters that are not Serverless v1.
    from moto.rds.models import DBCluster

    info = DBCluster.scaling_configuration_info.fget

    def scaling_configuration_info(self: Any) -> dict[str, Any] | None:
        return info(self) if self.engine_mode == "serverless" else None

    DBCluster.scaling_configuration_info = property(scaling_configuration_info)


def patch_route53_private_zone() -> None:
    # moto defect: a zone is private only with HostedZoneConfig.PrivateZone; AWS decides by the VPC sent.
    from moto.route53.responses import Route53

    def make(create: Callable[..., Any]) -> Callable[..., Any]:
        def create_hosted_zone(self: Any) -> Any:
            if self._get_param("VPC.VPCId"):
                self.params.setdefault("HostedZoneConfig", {})["PrivateZone"] = True
            return create(self)

        return create_hosted_zone

    _wrap(Route53, "create_hosted_zone", make)


def patch_ec2_rule_description() -> None:
    # moto defect: SecurityGroupRule.description reads only the CIDR range, not a referenced-group rule.
    from moto.ec2.models.security_groups import SecurityGroupRule

    def description(self: Any) -> str | None:
        return self.ip_range.get("Description") or self.source_group.get("Description")

    SecurityGroupRule.description = property(description)


def patch_elbv2_default_scheme() -> None:
    # moto defect: Scheme is left unset when internal=false; AWS defaults it to internet-facing.
    from moto.elbv2.models import ELBv2Backend

    def make(create: Callable[..., Any]) -> Callable[..., Any]:
        def create_load_balancer(self: Any, *args: Any, scheme: str | None = None, **kwargs: Any) -> Any:
            return create(self, *args, scheme=scheme or "internet-facing", **kwargs)

        return create_load_balancer

    _wrap(ELBv2Backend, "create_load_balancer", make)


def patch_lambda_dead_letter_config() -> None:
    # moto defect: a function's DeadLetterConfig is accepted, never stored or returned.
    from moto.awslambda.models import LambdaFunction

    def make_init(init: Callable[..., Any]) -> Callable[..., Any]:
        def __init__(self: Any, account_id: str, spec: dict[str, Any], *args: Any, **kwargs: Any) -> None:
            init(self, account_id, spec, *args, **kwargs)
            self.dead_letter_config = spec.get("DeadLetterConfig") or {}

        return __init__

    def make_get(get: Callable[..., Any]) -> Callable[..., Any]:
        def get_configuration(self: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
            config = get(self, *args, **kwargs)
            if getattr(self, "dead_letter_config", {}).get("TargetArn"):
                config["DeadLetterConfig"] = self.dead_letter_config
            return config

        return get_configuration

    def make_update(update: Callable[..., Any]) -> Callable[..., Any]:
        def update_configuration(self: Any, config_updates: dict[str, Any]) -> dict[str, Any]:
            if "DeadLetterConfig" in config_updates:
                self.dead_letter_config = config_updates["DeadLetterConfig"] or {}
            return update(self, config_updates)

        return update_configuration

    _wrap(LambdaFunction, "__init__", make_init)
    _wrap(LambdaFunction, "get_configuration", make_get)
    _wrap(LambdaFunction, "update_configuration", make_update)


def patch_s3_eventbridge_notification() -> None:
    # moto defect: GetBucketNotificationConfiguration drops EventBridgeConfiguration although it is stored.
    from moto.s3.responses import S3Response

    def make(get: Callable[..., Any]) -> Callable[..., Any]:
        def get_bucket_notification(self: Any) -> Any:
            config = self.backend.get_bucket_notification_configuration(self.bucket_name)
            if config is None or config.event_bridge is None:
                return get(self)
            serialized = self.serialized

            def with_event_bridge(action_result: Any) -> Any:
                action_result.result["EventBridgeConfiguration"] = config.event_bridge
                return serialized(action_result)

            self.serialized = with_event_bridge  # shadows the method for this one response
            try:
                return get(self)
            finally:
                del self.serialized

        return get_bucket_notification

    _wrap(S3Response, "get_bucket_notification", make)


PATCHES = (
    patch_dms_subnet_group,  # before the timestamp patch, which wraps the to_dict it sets
    patch_dms_timestamps,
    patch_dms_task_becomes_ready,
    patch_dms_event_subscriptions,
    patch_rds_performance_insights,
    patch_rds_data_api,
    patch_rds_scaling_configuration,
    patch_route53_private_zone,
    patch_ec2_rule_description,
    patch_elbv2_default_scheme,
    patch_lambda_dead_letter_config,
    patch_s3_eventbridge_notification,
)


def apply_patches() -> None:
    for patch in PATCHES:
        patch()


# --------------------------------------------------------------------------- server


class ActivityTracker:
    """WSGI middleware remembering when the last request arrived."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app
        self.last_request = time.monotonic()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        self.last_request = time.monotonic()
        return self.app(environ, start_response)

    def idle_seconds(self) -> float:
        return time.monotonic() - self.last_request


def _stop_when_idle(server: Any, activity: ActivityTracker, idle_timeout: float) -> None:
    while activity.idle_seconds() < idle_timeout:
        time.sleep(min(1.0, idle_timeout))
    print(f"no request for {idle_timeout:g} s: stopping", file=sys.stderr, flush=True)
    server.shutdown()


def _raise_exit(signum: int, frame: Any) -> None:
    raise SystemExit(0)


def serve(port: int, idle_timeout: float, pidfile: Path | None = None) -> None:
    """Run the patched moto server on 127.0.0.1:port in the foreground until signalled or idle."""
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"  # before moto is imported
    os.environ["MOTO_PORT"] = str(port)
    check_moto()
    apply_patches()
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    activity = ActivityTracker(DomainDispatcherApplication(create_backend_app))
    server = make_server(HOST, port, activity, threaded=True, request_handler=MotoRequestHandler)
    signal.signal(signal.SIGTERM, _raise_exit)
    signal.signal(signal.SIGINT, _raise_exit)
    threading.Thread(target=_stop_when_idle, args=(server, activity, idle_timeout), daemon=True).start()
    print(f"serving on {endpoint(port)} (moto {MOTO_VERSION}, patched)", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        if pidfile is not None and read_pid(pidfile) == os.getpid():
            pidfile.unlink(missing_ok=True)


# --------------------------------------------------------------------------- process control


def endpoint(port: int) -> str:
    return f"http://{HOST}:{port}"


def answers_as_moto(port: int, timeout: float = 2.0) -> bool:
    """True when a moto server answers HTTP on 127.0.0.1:port."""
    try:
        with urllib.request.urlopen(f"{endpoint(port)}/moto-api/config", timeout=timeout) as response:
            return 200 <= response.status < 300
    except (OSError, urllib.error.URLError):
        return False


def read_pid(pidfile: Path) -> int | None:
    try:
        return int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return None


def is_emulator_process(pid: int) -> bool:
    """True when pid is a live (not zombie) `tools.local_aws serve` process."""
    proc = Path(f"/proc/{pid}")
    if not Path("/proc/self").exists():  # no procfs: best effort
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True
    try:
        status_lines = (proc / "status").read_text().splitlines()
        state = next(line for line in status_lines if line.startswith("State:"))
        cmdline = (proc / "cmdline").read_bytes().split(b"\0")
    except (OSError, StopIteration):
        return False
    return "Z" not in state.split()[1] and b"tools.local_aws" in cmdline and b"serve" in cmdline


def running_pid(pidfile: Path) -> int | None:
    pid = read_pid(pidfile)
    return pid if pid is not None and is_emulator_process(pid) else None


def _log_tail(log: Path, lines: int = 20) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _already_running(port: int, pidfile: Path) -> bool:
    """True (and says so) when an emulator answers at port; raises when pidfile's runs elsewhere."""
    pid = running_pid(pidfile)
    answering = answers_as_moto(port)
    if pid is not None and not answering:
        raise EmulatorError(f"local AWS emulator from {pidfile} runs (pid {pid}) but does not answer at "
                            f"{endpoint(port)}: stop it first, or start on its port")
    if pid is not None:
        print(f"local AWS emulator already running at {endpoint(port)} (pid {pid}, {pidfile}): nothing to do")
    elif answering:
        print(f"local AWS emulator already answers at {endpoint(port)} "
              f"(not started from {pidfile}): nothing to do")
    return answering


def _spawn_serve(port: int, pidfile: Path, log: Path, idle_timeout: float) -> subprocess.Popen[bytes]:
    """`serve` in its own session, detached from this terminal, writing to log."""
    log.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "tools.local_aws", "serve", "--port", str(port),
               "--idle-timeout", str(idle_timeout), "--pidfile", str(pidfile.resolve())]
    with log.open("w") as log_stream:
        return subprocess.Popen(command, cwd=PROJECT_ROOT, stdin=subprocess.DEVNULL,
                                stdout=log_stream, stderr=subprocess.STDOUT, start_new_session=True)


def _wait_until_answering(child: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while not answers_as_moto(port, timeout=1.0):
        if child.poll() is not None:
            raise EmulatorError(f"local AWS emulator exited with code {child.returncode} while starting; "
                                f"{log}:\n{_log_tail(log)}")
        if time.monotonic() > deadline:
            _terminate(child.pid)
            raise EmulatorError(f"local AWS emulator did not answer at {endpoint(port)} within "
                                f"{START_TIMEOUT:g} s; {log}:\n{_log_tail(log)}")
        time.sleep(0.2)


def start(port: int, pidfile: Path, log: Path, idle_timeout: float) -> None:
    if _already_running(port, pidfile):
        return
    pidfile.unlink(missing_ok=True)
    pidfile.parent.mkdir(parents=True, exist_ok=True)
    child = _spawn_serve(port, pidfile, log, idle_timeout)
    _wait_until_answering(child, port, log)
    pidfile.write_text(f"{child.pid}\n")
    print(f"local AWS emulator running at {endpoint(port)} (pid {child.pid})")


def _wait_gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while is_emulator_process(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _terminate(pid: int) -> None:
    """SIGTERM, then SIGKILL after STOP_GRACE seconds."""
    for sig, grace in ((signal.SIGTERM, STOP_GRACE), (signal.SIGKILL, 5.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        if _wait_gone(pid, grace):
            return
    raise EmulatorError(f"local AWS emulator (pid {pid}) survived SIGKILL")


def stop(pidfile: Path) -> None:
    pid = running_pid(pidfile)
    if pid is None:
        pidfile.unlink(missing_ok=True)
        print(f"local AWS emulator not running ({pidfile}): nothing to stop")
        return
    _terminate(pid)
    pidfile.unlink(missing_ok=True)
    print(f"local AWS emulator stopped (pid {pid})")


def status(port: int, pidfile: Path) -> int:
    """Print the state; exit code 0 when it answers, 3 when not running, 1 when alive but not answering."""
    pid = running_pid(pidfile)
    answering = answers_as_moto(port)
    if pid is not None and answering:
        print(f"local AWS emulator running at {endpoint(port)} (pid {pid})")
        return 0
    if pid is not None:
        print(f"local AWS emulator process {pid} is alive but does not answer at {endpoint(port)}")
        return 1
    if answering:
        print(f"local AWS emulator answers at {endpoint(port)} (not started from {pidfile})")
        return 0
    print(f"local AWS emulator not running ({pidfile}, {endpoint(port)})")
    return 3


# --------------------------------------------------------------------------- CLI


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tools.local_aws", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("start", "stop", "status", "serve"):
        command = commands.add_parser(name)
        if name != "stop":
            command.add_argument("--port", type=int, default=DEFAULT_PORT)
        if name in ("start", "serve"):
            command.add_argument("--idle-timeout", type=float, default=DEFAULT_IDLE_TIMEOUT,
                                 help="seconds without a request before the server stops itself")
        default_pidfile = None if name == "serve" else Path("build/moto.pid")
        command.add_argument("--pidfile", type=Path, default=default_pidfile)
        if name == "start":
            command.add_argument("--log", type=Path, default=Path("build/moto.log"))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "start":
            start(args.port, args.pidfile, args.log, args.idle_timeout)
        elif args.command == "stop":
            stop(args.pidfile)
        elif args.command == "status":
            return status(args.port, args.pidfile)
        else:
            serve(args.port, args.idle_timeout, args.pidfile)
    except EmulatorError as error:
        print(error, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
