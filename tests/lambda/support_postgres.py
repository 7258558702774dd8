"""The PostgreSQL server the handler tests run against: the emulator's own (tools/local_aws/postgres.py)."""

from tools.local_aws.postgres import PostgresError, PostgresServer

__all__ = ["PostgresError", "PostgresServer"]
