"""The payments API function: the load balancer's target, reading and writing Aurora through the Data API."""

from __future__ import annotations

from constructs import Construct

from lib.constructs.alerting import Alerting
from lib.constructs.database import Database
from lib.constructs.function import PaymentsFunction
from lib.constructs.iam import allow
from lib.constructs.network import Network
from lib.constructs.security_groups import SecurityGroups
from lib.constructs.security_keys import SecurityKeys

DATA_API_ACTIONS = ["rds-data:ExecuteStatement", "rds-data:BatchExecuteStatement", "rds-data:BeginTransaction",
                    "rds-data:CommitTransaction", "rds-data:RollbackTransaction"]


class Compute(Construct):
    """`payment_api`: Data API access to the cluster and its master secret, nothing else."""

    def __init__(self, scope: Construct, construct_id: str, *, name_prefix: str, reserved_concurrency: int | None,
                 log_retention_days: int, network: Network, security_groups: SecurityGroups, keys: SecurityKeys,
                 alerting: Alerting, database: Database) -> None:
        super().__init__(scope, construct_id)
        cluster_arn, secret_arn = database.cluster.arn, database.master_secret_arn
        self.payment_api = PaymentsFunction(
            self, "payment_api", name_prefix=name_prefix, source="payment_api",
            description="Payments API behind the ALB (RDS Data API)",
            environment={"DB_CLUSTER_ARN": cluster_arn, "DB_SECRET_ARN": secret_arn,
                         "DB_NAME": database.database_name},
            statements=[allow(DATA_API_ACTIONS, cluster_arn), allow(["secretsmanager:GetSecretValue"], secret_arn)],
            reserved_concurrency=reserved_concurrency, timeout_seconds=15, memory_mb=512,
            log_retention_days=log_retention_days, network=network, security_groups=security_groups, keys=keys,
            alerting=alerting)
