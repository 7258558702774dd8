"""DMS: replication between local PostgreSQL databases, with PostgreSQL's own logical replication."""

from tools.local_aws.dms.patches import PATCHES

__all__ = ["PATCHES"]
