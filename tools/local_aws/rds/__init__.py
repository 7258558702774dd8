"""RDS: clusters described by moto, each Aurora PostgreSQL cluster backed by real databases."""

from tools.local_aws.rds.patches import PATCHES

__all__ = ["PATCHES"]
