"""Lambda: functions run for real, without Docker, in warm python3.12 workers (see docs/local-runtime.md)."""

from tools.local_aws.awslambda.patches import PATCHES

__all__ = ["PATCHES"]
