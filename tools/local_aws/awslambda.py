"""Lambda: a function's DeadLetterConfig is stored and returned."""

from __future__ import annotations

from typing import Any, Callable

from tools.local_aws.common import wrap
from tools.local_aws.moto_guard import moto_patch


@moto_patch(requires={
    "moto.awslambda.models.LambdaFunction.__init__": ("account_id", "spec", "region"),
    "moto.awslambda.models.LambdaFunction.get_configuration": ("on_create",),
    "moto.awslambda.models.LambdaFunction.update_configuration": ("config_updates",),
})
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

    wrap(LambdaFunction, "__init__", make_init)
    wrap(LambdaFunction, "get_configuration", make_get)
    wrap(LambdaFunction, "update_configuration", make_update)


PATCHES = (patch_lambda_dead_letter_config,)
