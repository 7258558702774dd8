"""EC2: security-group rules as AWS describes and revokes them; Site-to-Site VPN connections keep their
options and take static routes; deleted Transit Gateway attachments stay listed as deleted."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tools.local_aws.common import wrap
from tools.local_aws.moto_guard import CLASS, PROPERTY, assigns, moto_patch

_REVOKE_PARAMETERS = ("group_name_or_id", "security_rule_ids", "vpc_id")


@moto_patch(requires={"moto.ec2.models.security_groups.SecurityGroupRule.description": PROPERTY})
def patch_ec2_rule_description() -> None:
    # moto defect: SecurityGroupRule.description reads only the CIDR range, not a referenced-group rule.
    from moto.ec2.models.security_groups import SecurityGroupRule

    def description(self: Any) -> str | None:
        return self.ip_range.get("Description") or self.source_group.get("Description")

    # A method becomes a property: moto_guard checks the one it replaces.
    SecurityGroupRule.description = property(description)  # type: ignore[method-assign,assignment]


@moto_patch(
    requires={
        "moto.ec2.models.security_groups.SecurityGroupBackend.revoke_security_group_ingress": _REVOKE_PARAMETERS,
        "moto.ec2.models.security_groups.SecurityGroupBackend.revoke_security_group_egress": _REVOKE_PARAMETERS,
        "moto.ec2.models.security_groups.SecurityGroupBackend.get_security_group_by_name_or_id": (),
        "moto.ec2.exceptions.InvalidSecurityGroupRuleIdNotFoundError": (),
    }
)
def patch_ec2_revoke_unknown_rule_id() -> None:
    # moto defect: revoking an unknown SecurityGroupRuleId answers InvalidPermission.NotFound, where AWS
    # answers InvalidSecurityGroupRuleId.NotFound. The provider treats only the latter as "already gone",
    # so a destroy whose first revoke was retried failed now and then on the emulator.
    from moto.ec2.exceptions import InvalidSecurityGroupRuleIdNotFoundError
    from moto.ec2.models.security_groups import SecurityGroupBackend

    def refusing_unknown_rule_ids(rules_of: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def make(revoke: Callable[..., Any]) -> Callable[..., Any]:
            def checked(
                self: Any,
                group_name_or_id: str,
                *args: Any,
                security_rule_ids: list[str] | None = None,
                vpc_id: str | None = None,
                **kwargs: Any,
            ) -> Any:
                group = self.get_security_group_by_name_or_id(group_name_or_id, vpc_id)
                if group is not None and security_rule_ids:
                    known = {rule.id for rule in getattr(group, rules_of)}
                    unknown = [rule_id for rule_id in security_rule_ids if rule_id not in known]
                    if unknown:
                        raise InvalidSecurityGroupRuleIdNotFoundError(unknown[0])
                return revoke(
                    self, group_name_or_id, *args, security_rule_ids=security_rule_ids, vpc_id=vpc_id, **kwargs
                )

            return checked

        return make

    wrap(SecurityGroupBackend, "revoke_security_group_ingress", refusing_unknown_rule_ids("ingress_rules"))
    wrap(SecurityGroupBackend, "revoke_security_group_egress", refusing_unknown_rule_ids("egress_rules"))


# --- Site-to-Site VPN: what the stack's way to on-premises needs (issue 9 #6) -----------------------


def _routes(connection: Any) -> list[dict[str, str]]:
    routes = getattr(connection, "routes", None)
    if routes is None:
        routes = connection.routes = []
    return routes


@moto_patch(
    requires={
        "moto.ec2.responses.vpn_connections.VPNConnections.create_vpn_connection": ("self",),
        "moto.ec2.models.vpn_connections.VPNConnection": assigns("options", "id", "state"),
        "moto.core.responses.ActionResult.result": PROPERTY,
    }
)
def patch_vpn_connection_options() -> None:
    # moto gap: CreateVpnConnection drops Options, so static_routes_only reads back false and every plan
    # replaces a statically routed VPN.
    from moto.ec2.responses.vpn_connections import VPNConnections

    def make(create: Callable[..., Any]) -> Callable[..., Any]:
        def create_vpn_connection(self: Any) -> Any:
            result = create(self)
            connection = result.result["VpnConnection"]
            options = self._get_param("Options") or {}
            static = str(options.get("StaticRoutesOnly", "false")).lower() == "true"
            connection.options = {"StaticRoutesOnly": static, "TunnelInsideIpVersion": "ipv4"}
            _routes(connection)
            return result

        return create_vpn_connection

    wrap(VPNConnections, "create_vpn_connection", make)


@moto_patch(
    requires={
        "moto.ec2.responses.vpn_connections.VPNConnections": CLASS,
        "moto.ec2.models.vpn_connections.VPNConnectionBackend.describe_vpn_connections": ("vpn_connection_ids",),
        "moto.core.responses.EmptyResult": CLASS,
    },
    adds=(
        "moto.ec2.responses.vpn_connections.VPNConnections.create_vpn_connection_route",
        "moto.ec2.responses.vpn_connections.VPNConnections.delete_vpn_connection_route",
    ),
)
def patch_vpn_connection_routes() -> None:
    # moto gap: CreateVpnConnectionRoute / DeleteVpnConnectionRoute are not implemented (a static route to
    # ONPREM_CIDR answers 500 until Terraform gives up).
    from moto.core.responses import EmptyResult
    from moto.ec2.responses.vpn_connections import VPNConnections

    def _connection(self: Any) -> Any:
        [connection] = self.ec2_backend.describe_vpn_connections(
            vpn_connection_ids=[self._get_param("VpnConnectionId")]
        )
        return connection

    def create_vpn_connection_route(self: Any) -> Any:
        connection, cidr = _connection(self), self._get_param("DestinationCidrBlock")
        routes = _routes(connection)
        if not any(route["DestinationCidrBlock"] == cidr for route in routes):
            routes.append({"DestinationCidrBlock": cidr, "Source": "Static", "State": "available"})
        return EmptyResult()

    def delete_vpn_connection_route(self: Any) -> Any:
        connection, cidr = _connection(self), self._get_param("DestinationCidrBlock")
        connection.routes = [route for route in _routes(connection) if route["DestinationCidrBlock"] != cidr]
        return EmptyResult()

    # Actions moto 5.2.5 lacks: the patch adds them to its response class.
    VPNConnections.create_vpn_connection_route = create_vpn_connection_route  # type: ignore[attr-defined]
    VPNConnections.delete_vpn_connection_route = delete_vpn_connection_route  # type: ignore[attr-defined]


@moto_patch(requires={"moto.ec2.models.vpn_connections.VPNConnection.get_filter_value": ("filter_name",)})
def patch_vpn_connection_filters() -> None:
    # moto gap: DescribeVpnConnections knows no route or option filters; the provider finds a VPN route with
    # route.destination-cidr-block.
    from moto.ec2.models.vpn_connections import VPNConnection

    def make(get_filter_value: Callable[..., Any]) -> Callable[..., Any]:
        def filter_value(self: Any, filter_name: str, method_name: str | None = None) -> Any:
            if filter_name == "route.destination-cidr-block":
                return [route["DestinationCidrBlock"] for route in _routes(self)]
            if filter_name == "route.state":
                return [route["State"] for route in _routes(self)]
            if filter_name == "vpn-connection-id":
                return self.id
            if filter_name == "option.static-routes-only":
                return str(bool((self.options or {}).get("StaticRoutesOnly"))).lower()
            return get_filter_value(self, filter_name, method_name)

        return filter_value

    wrap(VPNConnection, "get_filter_value", make)


@moto_patch(
    requires={
        "moto.ec2.models.transit_gateway_attachments.TransitGatewayAttachmentBackend."
        "delete_transit_gateway_vpc_attachment": ("transit_gateway_attachment_id",),
    }
)
def patch_transit_gateway_attachment_deleted_state() -> None:
    # moto gap: a deleted VPC attachment vanishes at once, while EC2 lists it as `deleted` for a while and the
    # provider waits for that state: every destroy of an attachment timed out ("couldn't find resource").
    from moto.ec2.models.transit_gateway_attachments import TransitGatewayAttachmentBackend

    def make(delete: Callable[..., Any]) -> Callable[..., Any]:
        def delete_transit_gateway_vpc_attachment(self: Any, transit_gateway_attachment_id: str) -> Any:
            attachment = delete(self, transit_gateway_attachment_id)
            self.transit_gateway_attachments[transit_gateway_attachment_id] = attachment  # state: deleted
            return attachment

        return delete_transit_gateway_vpc_attachment

    wrap(TransitGatewayAttachmentBackend, "delete_transit_gateway_vpc_attachment", make)


PATCHES = (
    patch_ec2_rule_description,
    patch_ec2_revoke_unknown_rule_id,
    patch_vpn_connection_options,
    patch_vpn_connection_routes,
    patch_vpn_connection_filters,
    patch_transit_gateway_attachment_deleted_state,
)
