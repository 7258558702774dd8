"""S3: GetBucketNotificationConfiguration returns the EventBridge switch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tools.local_aws.common import wrap
from tools.local_aws.moto_guard import moto_patch


@moto_patch(
    requires={
        "moto.s3.responses.S3Response.get_bucket_notification": (),
        "moto.s3.models.S3Backend.get_bucket_notification_configuration": ("bucket_name",),
        "moto.s3.models.NotificationConfiguration.__init__": ("event_bridge",),
        "moto.core.responses.BaseResponse.serialized": ("action_result",),
    }
)
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

    wrap(S3Response, "get_bucket_notification", make)


PATCHES = (patch_s3_eventbridge_notification,)
