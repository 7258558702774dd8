"""RDS Data API: the five operations run for real on each Aurora cluster's PostgreSQL database."""

from tools.local_aws.rdsdata.patches import PATCHES

__all__ = ["PATCHES"]
