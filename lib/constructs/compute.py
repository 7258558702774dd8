"""The payments API and the schema it runs on: the API function (the load balancer's target), the
schema_migrations function, the secret of the API's database login and the deploy-time migration run."""

from __future__ import annotations

import json
import re
from typing import Unpack

from cdktf import Token
from cdktf_cdktf_provider_aws.lambda_invocation import LambdaInvocation
from cdktf_cdktf_provider_aws.secretsmanager_secret import SecretsmanagerSecret
from constructs import Construct

from lib import migrations
from lib.constructs.database import Database
from lib.constructs.function import FunctionPlacement, PaymentsFunction
from lib.constructs.iam import allow
from lib.constructs.migration import Migration

# The payment API runs single statements; only the migration run needs a transaction.
DATA_API_STATEMENTS = ["rds-data:ExecuteStatement"]
DATA_API_TRANSACTIONS = ["rds-data:BeginTransaction", "rds-data:CommitTransaction", "rds-data:RollbackTransaction"]
MIGRATION_TIMEOUT_SECONDS = 300


def cutover_login_name(name_prefix: str) -> str:
    """The cutover's database login (a lower-case PostgreSQL identifier), one per stack: roles are server-wide,
    and the local emulator serves every stack's cluster from one PostgreSQL server."""
    return re.sub(r"[^a-z0-9_]", "_", f"{name_prefix}_cutover")


class Compute(Construct):
    """`payment_api` reads and writes payments as its own database login (the app secret), never as the
    master user. `schema_migrations` is the only function that may read the master secret: Terraform
    invokes it whenever a migration file changes, and it writes the API's login into the app secret and
    the cutover's login (driver and rollback) into the cutover secret. Both run where `placement` puts them."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        reserved_concurrency: int | None,
        client_identity: str,
        secret_recovery_window_days: int,
        cutover_state_arn: str,
        cutover_state_parameter: str | None = None,
        cutover_tables: tuple[str, ...] = ("public.payments",),
        reverse_publication: str | None = None,
        migration: Migration,
        database: Database,
        **placement: Unpack[FunctionPlacement],
    ) -> None:
        super().__init__(scope, construct_id)
        name_prefix = placement["name_prefix"]
        cluster_arn = database.cluster.arn

        # Created empty: the schema_migrations function generates the password and stores it with
        # PutSecretValue, so no password is in code, plan or state.
        def login_secret(secret_id: str, name: str, whose: str) -> SecretsmanagerSecret:
            return SecretsmanagerSecret(
                self,
                secret_id,
                name=f"{name_prefix}/aurora/{name}",
                description=f"Database login of {whose}; written by the schema_migrations function",
                kms_key_id=placement["keys"].data_key.arn,
                recovery_window_in_days=secret_recovery_window_days,
            )

        self.app_secret = login_secret("app_secret", "payment-api", "the payment API")
        app_secret_arn = self.app_secret.arn
        self.cutover_secret = login_secret("cutover_secret", "cutover", "the cutover driver and rollback")
        cutover_secret_arn = self.cutover_secret.arn
        migration_environment = {
            "DB_CLUSTER_ARN": cluster_arn,
            "DB_NAME": database.database_name,
            "MASTER_SECRET_ARN": database.master_secret_arn,
            "APP_SECRET_ARN": app_secret_arn,
            "CUTOVER_SECRET_ARN": cutover_secret_arn,
            "CUTOVER_LOGIN": cutover_login_name(name_prefix),
            "CUTOVER_TABLES": ",".join(cutover_tables),
            "DB_HOST": database.cluster.endpoint,
            "DB_PORT": Token.as_string(database.cluster.port),
        }
        read_secrets = [database.master_secret_arn, app_secret_arn, cutover_secret_arn]
        if reverse_publication:
            migration_environment["REVERSE_PUBLICATION"] = reverse_publication
        # Read for the DMS login's name: it creates awsdms_apply_exceptions, which the cutover reads.
        migration_environment["DMS_TARGET_SECRET_ARN"] = migration.target_secret_arn
        read_secrets.append(migration.target_secret_arn)
        self.migrations_sha256 = migrations.digest()
        self.schema_migrations = PaymentsFunction(
            self,
            "schema_migrations",
            source="schema_migrations",
            description="Applies the schema migrations and keeps the payment API's database login",
            environment=migration_environment,
            statements=[
                allow(DATA_API_STATEMENTS + DATA_API_TRANSACTIONS, cluster_arn),
                allow(["secretsmanager:GetSecretValue"], read_secrets),
                allow(["secretsmanager:PutSecretValue"], [app_secret_arn, cutover_secret_arn]),
            ],
            timeout_seconds=MIGRATION_TIMEOUT_SECONDS,
            **placement,
        )
        self.migration_run = self._migration_run(database)
        api_environment = {
            "DB_CLUSTER_ARN": cluster_arn,
            "DB_SECRET_ARN": app_secret_arn,
            "DB_NAME": database.database_name,
            "CLIENT_IDENTITY": client_identity,
        }
        if cutover_state_parameter:
            # The write gate takes a write only while the cutover state says Aurora is the writer.
            api_environment["CUTOVER_STATE_PARAMETER"] = cutover_state_parameter
        self.payment_api = PaymentsFunction(
            self,
            "payment_api",
            source="payment_api",
            description="Payments API behind the ALB (RDS Data API)",
            environment=api_environment,
            statements=[
                allow(DATA_API_STATEMENTS, cluster_arn),
                allow(["secretsmanager:GetSecretValue"], app_secret_arn),
                # its write gate reads the cutover state (lib/lambda/shared/write_gate.py)
                allow(["ssm:GetParameter"], cutover_state_arn),
            ],
            reserved_concurrency=reserved_concurrency,
            timeout_seconds=15,
            memory_mb=512,
            # A new API version starts on the schema it expects: migrations are written to expand first.
            depends_on=[self.migration_run],
            **placement,
        )

    def _migration_run(self, database: Database) -> LambdaInvocation:
        """Runs schema_migrations once per deploy that changes a migration (or replaces the cluster, the app
        secret or the cutover secret). The provider's default lifecycle (CREATE_ONLY) invokes on create only: a
        plan reads nothing back, so an unchanged stack plans no change, and a destroy invokes nothing.
        https://registry.terraform.io/providers/hashicorp/aws/latest/docs/resources/lambda_invocation
        """
        digest = self.migrations_sha256
        return LambdaInvocation(
            self,
            "schema_migration_run",
            function_name=self.schema_migrations.function.function_name,
            input=json.dumps({"migrations_sha256": digest}),
            triggers={
                "migrations_sha256": digest,
                "cluster": database.cluster.cluster_resource_id,
                "app_secret": self.app_secret.arn,
                "cutover_secret": self.cutover_secret.arn,
            },
            # The writer instance, not only the cluster: the Data API answers only once it is up.
            depends_on=[database.instances[0], self.schema_migrations.function],
        )
