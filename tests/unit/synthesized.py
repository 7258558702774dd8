"""A read-only view of one synthesized stack (cdk.tf.json) for assertions."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from pathlib import Path

from cdktf import (
    DefaultTokenResolver,
    StringConcat,
    TerraformDataSource,
    TerraformResource,
    TerraformStack,
    Tokenization,
)
from constructs import Construct


class Synthesized:
    """The parsed JSON and its text, the stack object that produced it, and (for a whole-stack
    synth) the stack folder with the assets."""

    def __init__(self, text: str, stack: TerraformStack, stack_dir: Path | None = None):
        self.text = text
        self.json = json.loads(text)
        self.stack = stack
        self.stack_dir = stack_dir

    @classmethod
    def from_stack_dir(cls, stack: TerraformStack, stack_dir: Path) -> Synthesized:
        return cls((stack_dir / "cdk.tf.json").read_text(), stack, stack_dir)

    def without(self, constructs: Iterable[Construct]) -> Synthesized:
        """This synth without the resources and data sources inside constructs: the same stack object,
        so `body`, `ref` and `address` still work for what is left."""
        elements = [
            element
            for construct in constructs
            for element in construct.node.find_all()
            if isinstance(element, TerraformResource | TerraformDataSource)
        ]
        kept = copy.deepcopy(self.json)
        for element in elements:
            section = "data" if isinstance(element, TerraformDataSource) else "resource"
            by_name = kept[section][element.terraform_resource_type]
            del by_name[self.stack.get_logical_id(element)]
            if not by_name:
                del kept[section][element.terraform_resource_type]
        return Synthesized(json.dumps(kept, indent=2), self.stack, self.stack_dir)

    def resources(self, resource_type: str) -> dict[str, dict]:
        return self.json.get("resource", {}).get(resource_type, {})

    def one(self, resource_type: str) -> dict:
        found = self.resources(resource_type)
        assert len(found) == 1, f"expected one {resource_type}, found {sorted(found)}"
        return next(iter(found.values()))

    def body(self, element: TerraformResource | TerraformDataSource) -> dict:
        """The synthesized block of a resource (or data source) built in this stack."""
        section = "data" if isinstance(element, TerraformDataSource) else "resource"
        return self.json[section][element.terraform_resource_type][self.stack.get_logical_id(element)]

    def of(self, construct: Construct, resource_type: str) -> list[dict]:
        """The synthesized blocks of every resource of that type inside construct."""
        return [
            self.body(element)
            for element in construct.node.find_all()
            if isinstance(element, TerraformResource | TerraformDataSource)
            and element.terraform_resource_type == resource_type
        ]

    def address(self, element: TerraformResource | TerraformDataSource) -> str:
        """`type.logical_id`, as depends_on and moved blocks name a resource."""
        return f"{element.terraform_resource_type}.{self.stack.get_logical_id(element)}"

    def one_of(self, construct: Construct, resource_type: str) -> dict:
        found = self.of(construct, resource_type)
        assert len(found) == 1, f"expected one {resource_type} in {construct.node.path}, found {len(found)}"
        return found[0]

    def ref(self, value: object) -> object:
        """A value holding tokens (e.g. `network.vpc.id`) as the synthesized JSON writes it: `${aws_vpc.<name>.id}`."""
        return Tokenization.resolve(
            value, scope=self.stack, resolver=DefaultTokenResolver(StringConcat()), preparing=False
        )

    def data(self, data_type: str) -> dict[str, dict]:
        return self.json.get("data", {}).get(data_type, {})

    def principal_ref(self, service: str, attribute: str = "name") -> str:
        """The interpolation of the aws_service_principal data source for service."""
        [name] = [key for key, body in self.data("aws_service_principal").items() if body["service_name"] == service]
        return f"${{data.aws_service_principal.{name}.{attribute}}}"

    @property
    def outputs(self) -> dict[str, dict]:
        return self.json.get("output", {})

    def output(self, name: str) -> object:
        return self.outputs[name]["value"]
