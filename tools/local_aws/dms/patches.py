"""DMS: epoch timestamps, tasks that become ready, real subnet groups, event subscriptions, and tasks
that replicate for real between local databases (dms/replication.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from tools.local_aws.common import EmulatorError, wrap
from tools.local_aws.moto_guard import CLASS, assigns, moto_patch

BACKEND = "moto.dms.models.DatabaseMigrationServiceBackend"
RESPONSE = "moto.dms.responses.DatabaseMigrationServiceResponse"


def dms_arn(backend: Any, resource_type: str, identifier: str) -> str:
    from moto.utilities.utils import get_partition

    partition = get_partition(backend.region_name)
    return f"arn:{partition}:dms:{backend.region_name}:{backend.account_id}:{resource_type}:{identifier}"


# --------------------------------------------------------------------------- timestamps


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
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _epoch_timestamps(data: Any, fields: frozenset[str]) -> Any:
    if isinstance(data, list):
        return [_epoch_timestamps(item, fields) for item in data]
    if not isinstance(data, dict):
        return data
    return {
        key: _iso_to_epoch(value) if key in fields and isinstance(value, str) else _epoch_timestamps(value, fields)
        for key, value in data.items()
    }


@moto_patch(
    requires={
        "moto.dms.models.FakeReplicationInstance.to_dict": (),
        "moto.dms.models.FakeReplicationTask.to_dict": (),
        "moto.dms.models.Endpoint.to_dict": (),
        "moto.dms.models.FakeReplicationSubnetGroup.to_dict": (),
        "moto.dms.models.FakeConnection.to_dict": (),
    }
)
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
        wrap(model, "to_dict", make)


# --------------------------------------------------------------------------- task readiness


@moto_patch(
    requires={
        "moto.dms.models.FakeReplicationTask.ready": (),
        f"{BACKEND}.describe_replication_tasks": (),
    }
)
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

    wrap(DatabaseMigrationServiceBackend, "describe_replication_tasks", make)


# --------------------------------------------------------------------------- subnet groups


def _subnet_group_arn(backend: Any, identifier: str) -> str:
    return dms_arn(backend, "subgrp", identifier)


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


@moto_patch(
    requires={
        f"{BACKEND}.create_replication_subnet_group": (
            "replication_subnet_group_identifier",
            "replication_subnet_group_description",
            "subnet_ids",
            "tags",
        ),
        f"{BACKEND}.delete_replication_subnet_group": ("replication_subnet_group_identifier",),
        "moto.dms.models.FakeReplicationInstance.to_dict": (),
        "moto.dms.models.FakeReplicationSubnetGroup.to_dict": (),
        "moto.dms.models.dms_backends": (),
        "moto.dms.exceptions.DmsClientError": CLASS,
        "moto.dms.exceptions.ResourceNotFoundFault": CLASS,
        RESPONSE: CLASS,
        "moto.ec2.models.ec2_backends": (),
        "moto.utilities.tagging_service.TaggingService.tag_resource": ("arn", "tags"),
        "moto.utilities.tagging_service.TaggingService.delete_all_tags_for_resource": ("arn",),
        "moto.utilities.utils.get_partition": (),
    },
    adds=(f"{RESPONSE}.modify_replication_subnet_group", f"{BACKEND}.modify_replication_subnet_group"),
)
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
            group = create(self, replication_subnet_group_identifier, replication_subnet_group_description, subnet_ids)
            _assign_subnets(group, subnets)
            if tags:
                self.tagger.tag_resource(_subnet_group_arn(self, replication_subnet_group_identifier), tags)
            return group

        return create_replication_subnet_group

    def make_delete(delete: Callable[..., Any]) -> Callable[..., Any]:
        def delete_replication_subnet_group(self: Any, replication_subnet_group_identifier: str) -> Any:
            group = delete(self, replication_subnet_group_identifier)
            self.tagger.delete_all_tags_for_resource(_subnet_group_arn(self, replication_subnet_group_identifier))
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
    wrap(backend, "create_replication_subnet_group", make_create)
    wrap(backend, "delete_replication_subnet_group", make_delete)
    # ModifyReplicationSubnetGroup: an action moto 5.2.5 lacks, added to its backend and response classes.
    backend.modify_replication_subnet_group = _modify_replication_subnet_group  # type: ignore[attr-defined]
    responses.DatabaseMigrationServiceResponse.modify_replication_subnet_group = (  # type: ignore[attr-defined]
        _modify_replication_subnet_group_response
    )
    models.FakeReplicationSubnetGroup.to_dict = _subnet_group_to_dict  # type: ignore[method-assign]  # the patch
    wrap(models.FakeReplicationInstance, "to_dict", make_instance_to_dict)


# --------------------------------------------------------------------------- event subscriptions


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
        "SubscriptionCreationTime": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3],
        "SourceType": params.get("SourceType"),
        "SourceIdsList": params.get("SourceIds") or [],
        "EventCategoriesList": params.get("EventCategories") or [],
        "Enabled": params.get("Enabled", True),
    }
    self.event_subscriptions[name] = {k: v for k, v in subscription.items() if v is not None}
    if params.get("Tags"):
        self.tagger.tag_resource(dms_arn(self, "es", name), params["Tags"])
    return self.event_subscriptions[name]


def _describe_event_subscriptions(self: Any, params: dict[str, Any]) -> list[dict[str, Any]]:
    if params.get("SubscriptionName"):
        return [_event_subscription(self, params["SubscriptionName"])]
    subscriptions = list(self.event_subscriptions.values())
    keys = {
        "event-subscription-id": lambda s: s["CustSubscriptionId"],
        "event-subscription-arn": lambda s: dms_arn(self, "es", s["CustSubscriptionId"]),
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
    self.tagger.delete_all_tags_for_resource(dms_arn(self, "es", params["SubscriptionName"]))
    return {**subscription, "Status": "deleting"}


def _add_tags_to_resource(self: Any, params: dict[str, Any]) -> None:
    self.tagger.tag_resource(params["ResourceArn"], params["Tags"])


def _remove_tags_from_resource(self: Any, params: dict[str, Any]) -> None:
    self.tagger.untag_resource_using_names(params["ResourceArn"], params["TagKeys"])


def dms_json_action(name: str, result_key: str | None) -> Callable[[Any], str]:
    """A DatabaseMigrationServiceResponse method passing the JSON body to the backend method `name`."""

    def action(self: Any) -> str:
        result = getattr(self.dms_backend, name)(json.loads(self.body))
        return json.dumps({result_key: result} if result_key else {})

    action.__name__ = name
    return action


EVENT_SUBSCRIPTION_ACTIONS = (
    ("create_event_subscription", _create_event_subscription, "EventSubscription"),
    ("describe_event_subscriptions", _describe_event_subscriptions, "EventSubscriptionsList"),
    ("modify_event_subscription", _modify_event_subscription, "EventSubscription"),
    ("delete_event_subscription", _delete_event_subscription, "EventSubscription"),
    ("add_tags_to_resource", _add_tags_to_resource, None),
    ("remove_tags_from_resource", _remove_tags_from_resource, None),
)


@moto_patch(
    requires={
        f"{BACKEND}.__init__": ("region_name", "account_id"),
        "moto.dms.exceptions.ResourceNotFoundFault": CLASS,
        "moto.dms.exceptions.ResourceAlreadyExistsFault": CLASS,
        RESPONSE: CLASS,
        "moto.utilities.tagging_service.TaggingService.tag_resource": ("arn", "tags"),
        "moto.utilities.tagging_service.TaggingService.delete_all_tags_for_resource": ("arn",),
        "moto.utilities.tagging_service.TaggingService.untag_resource_using_names": ("arn", "tag_names"),
    },
    adds=tuple(f"{owner}.{name}" for owner in (BACKEND, RESPONSE) for name, _, _ in EVENT_SUBSCRIPTION_ACTIONS),
)
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
    wrap(backend, "__init__", make_init)
    for name, implementation, result_key in EVENT_SUBSCRIPTION_ACTIONS:
        setattr(backend, name, implementation)
        setattr(response, name, dms_json_action(name, result_key))


# --------------------------------------------------------------------------- replication

START_TYPES = ("start-replication", "resume-processing", "reload-target")


def _replication() -> Any:
    from tools.local_aws import runtime

    return runtime.current().replication


def _endpoint_logins(backend: Any, task: Any) -> Callable[[], tuple[Any, Any]]:
    """Resolves the task's source and target endpoints to local databases when it starts."""

    def resolve() -> tuple[Any, Any]:
        from tools.local_aws import runtime
        from tools.local_aws.dms.endpoints import resolve_endpoint

        running = runtime.current()
        clusters = [
            c for c in running.clusters.clusters() if c.arn.split(":")[3:5] == [backend.region_name, backend.account_id]
        ]
        logins = []
        for arn in (task.source_endpoint_arn, task.target_endpoint_arn):
            endpoint = _endpoint(backend, arn)
            if endpoint is None:
                raise EmulatorError(f"endpoint {arn} no longer exists")
            tags = {t["Key"]: t["Value"] for t in backend.tagger.list_tags_for_resource(arn).get("Tags", [])}
            logins.append(
                resolve_endpoint(
                    endpoint, backend.account_id, backend.region_name, running.onprem, clusters, tags.get("Host")
                )
            )
        return logins[0], logins[1]

    return resolve


def _endpoint(backend: Any, arn: str) -> Any:
    return next((e for e in list(backend.endpoints.values()) if e.endpoint_arn == arn), None)


def _task(backend: Any, arn: str) -> Any:
    from moto.dms.exceptions import ResourceNotFoundFault

    task = backend.replication_tasks.get(arn)
    if task is None:
        raise ResourceNotFoundFault("Replication task could not be found.")
    return task


def _start_replication_task(self: Any) -> str:
    """StartReplicationTask: validated here, carried out in the background by the replication service."""
    from moto.core.utils import utcnow
    from moto.dms.exceptions import DmsClientError, InvalidResourceStateFault

    from tools.local_aws.dms.replication import StartRequest, TaskReplication

    params = json.loads(self.body)
    backend = self.dms_backend
    task = _task(backend, params["ReplicationTaskArn"])
    start_type = params.get("StartReplicationTaskType", "start-replication")
    if start_type not in START_TYPES:
        raise DmsClientError("InvalidParameterValueException", f"StartReplicationTaskType {start_type} is invalid")
    if task.status in ("starting", "running"):
        raise InvalidResourceStateFault(f"Replication task is already {task.status}")
    if start_type == "start-replication" and task.start_date is not None:
        raise InvalidResourceStateFault(
            "Start Type : START_REPLICATION, valid only for tasks running for the first time"
        )
    if start_type != "start-replication" and task.start_date is None:
        raise InvalidResourceStateFault(
            f"Start Type : {start_type.upper().replace('-', '_')}, valid only for tasks that ran before"
        )
    task.cdc_start_position = params.get("CdcStartPosition") or getattr(task, "cdc_start_position", None)
    settings = json.loads(task.replication_task_settings or "{}")
    instance = backend.replication_instances.get(task.replication_instance_arn)
    replication = TaskReplication(
        task_arn=task.arn,
        task_id=task.id,
        account_id=backend.account_id,
        region=backend.region_name,
        instance_id=instance.id if instance else task.replication_instance_arn.split(":")[-1],
        migration_type=task.migration_type,
        validation_enabled=bool((settings.get("ValidationSettings") or {}).get("EnableValidation")),
        cdc_start_position=task.cdc_start_position,
    )
    source = _endpoint(backend, task.source_endpoint_arn)
    source_slot = (source.postgre_sql_settings or {}).get("SlotName") if source else None
    task.status, task.start_date, task.stop_date = "starting", utcnow(), None
    request = StartRequest(
        start_type=start_type,
        resolve=_endpoint_logins(backend, task),
        source_slot=source_slot,
        table_mappings=task.table_mappings,
    )
    _replication().start(replication, request)
    return json.dumps({"ReplicationTask": {**task.to_dict(), "Status": "starting"}})  # as DMS answers a start


def _describe_table_statistics(self: Any) -> str:
    params = json.loads(self.body)
    task = _task(self.dms_backend, params["ReplicationTaskArn"])
    statistics = _replication().table_statistics(task.arn)
    for table_filter in params.get("Filters") or []:
        field = {"schema-name": "SchemaName", "table-name": "TableName", "table-state": "TableState"}.get(
            table_filter["Name"]
        )
        if field:
            statistics = [s for s in statistics if s[field] in table_filter["Values"]]
    return json.dumps({"ReplicationTaskArn": task.arn, "TableStatistics": statistics})


def _iso(epoch: float | None) -> str | None:
    return datetime.fromtimestamp(epoch, UTC).isoformat() if epoch else None


@moto_patch(
    requires={
        f"{BACKEND}.stop_replication_task": ("replication_task_arn",),
        f"{BACKEND}.delete_replication_task": ("replication_task_arn",),
        f"{BACKEND}.create_endpoint": (),
        f"{BACKEND}": assigns("replication_tasks", "endpoints", "replication_instances", "tagger"),
        f"{RESPONSE}.start_replication_task": (),
        f"{RESPONSE}.create_replication_task": (),
        "moto.dms.models.FakeReplicationTask": assigns(
            "id",
            "arn",
            "status",
            "migration_type",
            "table_mappings",
            "replication_task_settings",
            "source_endpoint_arn",
            "target_endpoint_arn",
            "replication_instance_arn",
            "start_date",
            "stop_date",
        ),
        "moto.dms.models.FakeReplicationTask.to_dict": (),
        "moto.dms.models.Endpoint": assigns(
            "endpoint_arn",
            "endpoint_identifier",
            "engine_name",
            "database_name",
            "server_name",
            "username",
            "password",
            "postgre_sql_settings",
        ),
        "moto.dms.exceptions.InvalidResourceStateFault": CLASS,
        "moto.dms.exceptions.ResourceNotFoundFault": CLASS,
        "moto.core.utils.utcnow": (),
        "moto.utilities.tagging_service.TaggingService.list_tags_for_resource": ("arn",),
        "moto.secretsmanager.models.SecretsManagerBackend.get_secret_value": (
            "secret_id",
            "version_id",
            "version_stage",
        ),
        "moto.cloudwatch.models.CloudWatchBackend.put_metric_data": ("namespace", "metric_data"),
    },
    adds=(f"{RESPONSE}.describe_table_statistics",),
)
def patch_dms_replication() -> None:
    # moto gap: tasks only change status (start makes them "running" at once), nothing replicates,
    # and DescribeTableStatistics is missing. Here tasks replicate between local databases.
    from moto.dms import models, responses

    def make_create_endpoint(create: Callable[..., Any]) -> Callable[..., Any]:
        def create_endpoint(self: Any, *args: Any, **kwargs: Any) -> Any:
            endpoint = create(self, *args, **kwargs)
            if endpoint.engine_name == "postgres":  # the on-premises side: its stand-in exists from now on
                from tools.local_aws import runtime
                from tools.local_aws.dms.endpoints import endpoint_database

                runtime.current().onprem.ensure(endpoint_database(endpoint))
            return endpoint

        return create_endpoint

    def make_create_task(create: Callable[..., Any]) -> Callable[..., Any]:
        def create_replication_task(self: Any) -> str:
            answer = create(self)
            params = json.loads(self.body)
            task = self.dms_backend.replication_tasks[json.loads(answer)["ReplicationTask"]["ReplicationTaskArn"]]
            task.cdc_start_position = params.get("CdcStartPosition")
            return answer

        return create_replication_task

    def make_stop(stop: Callable[..., Any]) -> Callable[..., Any]:
        def stop_replication_task(self: Any, replication_task_arn: str) -> Any:
            measured = _replication().task_stats(replication_task_arn)
            if measured is not None:
                _task(self, replication_task_arn).status = measured["status"]
            task = stop(self, replication_task_arn)  # refuses a task that is not running
            _replication().stop(replication_task_arn)
            return task

        return stop_replication_task

    def make_delete(delete: Callable[..., Any]) -> Callable[..., Any]:
        def delete_replication_task(self: Any, replication_task_arn: str) -> Any:
            task = delete(self, replication_task_arn)
            _replication().delete(replication_task_arn)
            return task

        return delete_replication_task

    def make_to_dict(to_dict: Callable[..., Any]) -> Callable[..., Any]:
        def task_to_dict(self: Any) -> dict[str, Any]:
            data = to_dict(self)
            measured = _replication().task_stats(self.arn)
            if measured is None:  # never started: DMS reports no statistics yet
                data.pop("ReplicationTaskStats", None)
                return data
            self.status = measured["status"]
            data["Status"] = measured["status"]
            data["ReplicationTaskStats"] = {
                k: _iso(v) if k.endswith("Date") else v for k, v in measured["stats"].items() if v is not None
            }
            for key, value in (
                ("LastFailureMessage", measured["failure"]),
                ("StopReason", measured["stop_reason"]),
                ("CdcStartPosition", getattr(self, "cdc_start_position", None)),
            ):
                if value:
                    data[key] = value
            return data

        return task_to_dict

    backend, response = models.DatabaseMigrationServiceBackend, responses.DatabaseMigrationServiceResponse
    wrap(backend, "create_endpoint", make_create_endpoint)
    wrap(backend, "stop_replication_task", make_stop)
    wrap(backend, "delete_replication_task", make_delete)
    wrap(response, "create_replication_task", make_create_task)
    response.start_replication_task = _start_replication_task  # type: ignore[method-assign]  # the patch
    response.describe_table_statistics = _describe_table_statistics  # type: ignore[attr-defined]  # moto 5.2.5 lacks it
    wrap(models.FakeReplicationTask, "to_dict", make_to_dict)


# The subnet-group and replication patches set the to_dict methods that the timestamp patch then wraps.
PATCHES = (
    patch_dms_subnet_group,
    patch_dms_replication,
    patch_dms_timestamps,
    patch_dms_task_becomes_ready,
    patch_dms_event_subscriptions,
)
