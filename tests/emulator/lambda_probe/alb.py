"""An ALB target for the emulator's load balancer tests: answers with the event it received.

GET /health answers 500 when the function's UNHEALTHY variable is "true"; /boom raises;
/malformed returns something that is not an ALB response.
"""

import base64
import json
import os


def handler(event, context):
    path = event.get("path")
    if path == "/boom":
        raise RuntimeError("target failed")
    if path == "/malformed":
        return {"no": "statusCode"}
    status = 500 if path == "/health" and os.environ.get("UNHEALTHY") == "true" else 200
    return {
        "statusCode": status,
        "statusDescription": f"{status} {'OK' if status == 200 else 'Error'}",
        "isBase64Encoded": True,
        "headers": {"content-type": "application/json", "x-backend": os.environ.get("BACKEND", "?")},
        "body": base64.b64encode(json.dumps(event).encode()).decode(),
    }
