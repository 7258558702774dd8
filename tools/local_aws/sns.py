"""SNS: a Lambda subscription invokes the function asynchronously with a real SNS event."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from tools.local_aws.common import wrap
from tools.local_aws.moto_guard import assigns, moto_patch


def sns_event(
    subscription: Any, message: str, message_id: str, subject: str | None, message_attributes: dict[str, Any] | None
) -> dict[str, Any]:
    """The event Lambda receives from an SNS subscription."""
    return {
        "Records": [
            {
                "EventVersion": "1.0",
                "EventSubscriptionArn": subscription.arn,
                "EventSource": "aws:sns",
                "Sns": {
                    "Type": "Notification",
                    "MessageId": message_id,
                    "TopicArn": subscription.topic.arn,
                    "Subject": subject,
                    "Message": message,
                    "Timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                    "SignatureVersion": "1",
                    "Signature": "unsigned (local emulator)",
                    "SigningCertUrl": "",
                    "UnsubscribeUrl": "",
                    "MessageAttributes": {
                        name: {"Type": value["Type"], "Value": value["Value"]}
                        for name, value in (message_attributes or {}).items()
                    },
                },
            }
        ]
    }


@moto_patch(
    requires={
        "moto.sns.models.Subscription.publish": (
            "message",
            "message_id",
            "subject",
            "message_attributes",
            "message_structure",
        ),
        "moto.sns.models.Subscription": assigns("protocol", "endpoint", "arn", "topic", "_filter_policy_matcher"),
        "moto.sns.models.Subscription._parse_message_structure": ("message", "protocol"),
        "moto.awslambda.utils.get_backend": (),
        "moto.awslambda.models.LambdaBackend.get_function": ("function_name_or_arn", "qualifier"),
    }
)
def patch_sns_lambda_subscription() -> None:
    # moto gap: a Lambda subscription invokes synchronously with a canned event (fake topic ARN,
    # fixed message id), so the publisher waits for the function and the function sees no real message.
    from moto.awslambda.utils import get_backend
    from moto.sns.models import Subscription

    def make(publish: Callable[..., Any]) -> Callable[..., Any]:
        def publish_to_lambda(
            self: Any,
            message: str,
            message_id: str,
            subject: str | None = None,
            message_attributes: dict[str, Any] | None = None,
            group_id: str | None = None,
            deduplication_id: str | None = None,
            message_structure: str | None = None,
        ) -> None:
            if self.protocol != "lambda":
                return publish(
                    self,
                    message,
                    message_id,
                    subject,
                    message_attributes,
                    group_id,
                    deduplication_id,
                    message_structure,
                )
            matcher = self._filter_policy_matcher
            if matcher is not None and not matcher.matches(message_attributes, message):
                return None
            if message_structure == "json":
                message = self._parse_message_structure(message, self.protocol)
            from tools.local_aws import runtime

            arn = self.endpoint.split(":")
            function = get_backend(arn[4], arn[3]).get_function(arn[6], arn[7] if len(arn) == 8 else None)
            event = sns_event(self, message, message_id, subject, message_attributes)
            runtime.current().lambdas.invoke_async(function, json.dumps(event))
            return None

        return publish_to_lambda

    wrap(Subscription, "publish", make)


PATCHES = (patch_sns_lambda_subscription,)
