"""RDS Data API (tools/local_aws/rdsdata, rds/clusters.py): real statements on each cluster's PostgreSQL database."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.emulator.harness import Emulator, unique
from tools.local_aws.client import LocalAwsControl
from tools.local_aws.common import EMULATOR_CREDENTIALS


def create_cluster(
    aws: Callable[[str], Any],
    network: dict[str, Any],
    *,
    instance: bool = True,
    http_endpoint: bool = True,
    master: str = "payments_admin",
) -> dict[str, str]:
    rds = aws("rds")
    subnet_group = unique("db")
    rds.create_db_subnet_group(
        DBSubnetGroupName=subnet_group, DBSubnetGroupDescription="db", SubnetIds=network["subnet_ids"]
    )
    identifier = unique("aurora")
    cluster = rds.create_db_cluster(
        DBClusterIdentifier=identifier,
        Engine="aurora-postgresql",
        EngineVersion="15.8",
        DatabaseName="payments",
        MasterUsername=master,
        ManageMasterUserPassword=True,
        EnableHttpEndpoint=http_endpoint,
        DBSubnetGroupName=subnet_group,
    )["DBCluster"]
    if instance:
        rds.create_db_instance(
            DBInstanceIdentifier=f"{identifier}-1",
            DBClusterIdentifier=identifier,
            Engine="aurora-postgresql",
            DBInstanceClass="db.serverless",
        )
    return {
        "identifier": identifier,
        "arn": cluster["DBClusterArn"],
        "secret": cluster["MasterUserSecret"]["SecretArn"],
    }


@pytest.fixture(scope="module")
def cluster(aws: Callable[[str], Any], network: dict[str, Any]) -> dict[str, str]:
    return create_cluster(aws, network)


@pytest.fixture(scope="module")
def sql(aws: Callable[[str], Any], cluster: dict[str, str]) -> Callable[..., dict[str, Any]]:
    """Run one statement on the cluster's `payments` database as its master user."""
    data = aws("rds-data")

    def run(statement: str, *parameters: dict[str, Any], secret: str | None = None, **options: Any) -> Any:
        return data.execute_statement(
            resourceArn=cluster["arn"],
            secretArn=secret or cluster["secret"],
            database="payments",
            sql=statement,
            parameters=list(parameters),
            **options,
        )

    return run


def param(name: str, kind: str, value: Any, hint: str | None = None) -> dict[str, Any]:
    return {"name": name, "value": {kind: value}, **({"typeHint": hint} if hint else {})}


def test_the_master_secret_holds_the_master_user_and_a_generated_password(
    aws: Callable[[str], Any], cluster: dict[str, str]
) -> None:
    secret = json.loads(aws("secretsmanager").get_secret_value(SecretId=cluster["secret"])["SecretString"])
    assert secret["username"] == "payments_admin" and len(secret["password"]) >= 24


def test_typed_parameters_round_trip_through_postgresql(sql: Callable[..., Any]) -> None:
    sql(
        "CREATE TABLE typed (id bigint PRIMARY KEY, ratio double precision, ok boolean, name varchar(20), "
        "amount numeric(18,2), ref uuid, at timestamp, day date, doc json, raw bytea, note text)"
    )
    inserted = sql(
        "INSERT INTO typed VALUES (:id, :ratio, :ok, :name, :amount, :ref, :at, :day, :doc, :raw, :note)",
        param("id", "longValue", 7),
        param("ratio", "doubleValue", 0.25),
        param("ok", "booleanValue", True),
        param("name", "stringValue", "card"),
        param("amount", "stringValue", "12.50", "DECIMAL"),
        param("ref", "stringValue", "6f1b2c1e-1111-4b4b-8c8c-123456789abc", "UUID"),
        param("at", "stringValue", "2024-02-29 12:34:56.789", "TIMESTAMP"),
        param("day", "stringValue", "2024-02-29", "DATE"),
        param("doc", "stringValue", '{"a": 1}', "JSON"),
        param("raw", "blobValue", b"\x00\xff"),
        param("note", "isNull", True),
    )
    assert inserted["numberOfRecordsUpdated"] == 1 and inserted["generatedFields"] == []

    selected = sql("SELECT * FROM typed", includeResultMetadata=True)
    assert selected["records"] == [
        [
            {"longValue": 7},
            {"doubleValue": 0.25},
            {"booleanValue": True},
            {"stringValue": "card"},
            {"stringValue": "12.50"},
            {"stringValue": "6f1b2c1e-1111-4b4b-8c8c-123456789abc"},
            {"stringValue": "2024-02-29 12:34:56.789"},
            {"stringValue": "2024-02-29"},
            {"stringValue": '{"a": 1}'},
            {"blobValue": b"\x00\xff"},
            {"isNull": True},
        ]
    ]
    metadata = {column["name"]: column["typeName"] for column in selected["columnMetadata"]}
    assert metadata == {
        "id": "int8",
        "ratio": "float8",
        "ok": "bool",
        "name": "varchar",
        "amount": "numeric",
        "ref": "uuid",
        "at": "timestamp",
        "day": "date",
        "doc": "json",
        "raw": "bytea",
        "note": "text",
    }
    assert selected["numberOfRecordsUpdated"] == 0

    as_json = json.loads(sql("SELECT id, amount, raw, note FROM typed", formatRecordsAs="JSON")["formattedRecords"])
    assert as_json == [{"id": 7, "amount": "12.50", "raw": "AP8=", "note": None}]
    as_numbers = sql("SELECT amount FROM typed", resultSetOptions={"decimalReturnType": "DOUBLE_OR_LONG"})
    assert as_numbers["records"] == [[{"doubleValue": 12.5}]]


def test_a_string_without_a_type_hint_is_a_varchar(sql: Callable[..., Any]) -> None:
    sql("CREATE TABLE refs (ref uuid PRIMARY KEY)")
    with pytest.raises(ClientError) as refused:
        sql("SELECT * FROM refs WHERE ref = :ref", param("ref", "stringValue", "6f1b2c1e-1111-4b4b-8c8c-123456789abc"))
    assert refused.value.response["Error"]["Code"] == "DatabaseErrorException"
    assert "operator does not exist: uuid = character varying" in refused.value.response["Error"]["Message"]


def test_transactions_commit_and_roll_back(
    aws: Callable[[str], Any], cluster: dict[str, str], sql: Callable[..., Any]
) -> None:
    data, target = aws("rds-data"), {"resourceArn": cluster["arn"], "secretArn": cluster["secret"]}
    sql("CREATE TABLE ledger (id bigint PRIMARY KEY)")

    kept = data.begin_transaction(database="payments", **target)["transactionId"]
    data.execute_statement(sql="INSERT INTO ledger VALUES (1)", database="payments", transactionId=kept, **target)
    assert sql("SELECT count(*) FROM ledger")["records"] == [[{"longValue": 0}]]  # not visible before commit
    assert data.commit_transaction(transactionId=kept, **target)["transactionStatus"] == "Transaction Committed"

    dropped = data.begin_transaction(database="payments", **target)["transactionId"]
    data.execute_statement(sql="INSERT INTO ledger VALUES (2)", database="payments", transactionId=dropped, **target)
    assert data.rollback_transaction(transactionId=dropped, **target)["transactionStatus"] == "Rollback Complete"
    assert sql("SELECT id FROM ledger")["records"] == [[{"longValue": 1}]]

    with pytest.raises(ClientError) as unknown:
        data.commit_transaction(transactionId=dropped, **target)
    assert unknown.value.response["Error"]["Code"] == "TransactionNotFoundException"


def test_a_batch_applies_every_parameter_set_or_none(
    aws: Callable[[str], Any], cluster: dict[str, str], sql: Callable[..., Any]
) -> None:
    data = aws("rds-data")
    sql("CREATE TABLE batch (id bigint PRIMARY KEY)")
    batch = {
        "resourceArn": cluster["arn"],
        "secretArn": cluster["secret"],
        "database": "payments",
        "sql": "INSERT INTO batch VALUES (:id)",
    }
    done = data.batch_execute_statement(parameterSets=[[param("id", "longValue", i)] for i in (1, 2)], **batch)
    assert done["updateResults"] == [{"generatedFields": []}, {"generatedFields": []}]
    with pytest.raises(ClientError) as duplicate:
        data.batch_execute_statement(parameterSets=[[param("id", "longValue", i)] for i in (3, 1)], **batch)
    assert duplicate.value.response["Error"]["Code"] == "DatabaseErrorException"
    assert sql("SELECT id FROM batch ORDER BY id")["records"] == [[{"longValue": 1}], [{"longValue": 2}]]


def test_an_application_role_secret_logs_in_as_that_role(
    aws: Callable[[str], Any], cluster: dict[str, str], sql: Callable[..., Any]
) -> None:
    secrets = aws("secretsmanager")
    app_secret = secrets.create_secret(Name=unique("app-role"))["ARN"]  # created empty, as the stack will
    # Not the stack's payments_app: roles are server-wide, and test_payments_mutual_tls migrates another cluster.
    sql("CREATE ROLE reports_app LOGIN PASSWORD 'app-pw-1'")
    sql("CREATE TABLE app_data (id bigint)")
    sql("GRANT SELECT ON app_data TO reports_app")
    secrets.put_secret_value(
        SecretId=app_secret, SecretString=json.dumps({"username": "reports_app", "password": "app-pw-1"})
    )

    assert sql("SELECT current_user", secret=app_secret)["records"] == [[{"stringValue": "reports_app"}]]
    with pytest.raises(ClientError) as no_ddl:
        sql("CREATE TABLE app_owned (id bigint)", secret=app_secret)
    assert "permission denied for schema public" in no_ddl.value.response["Error"]["Message"]

    secrets.put_secret_value(
        SecretId=app_secret, SecretString=json.dumps({"username": "reports_app", "password": "wrong"})
    )
    with pytest.raises(ClientError) as wrong:
        sql("SELECT 1", secret=app_secret)
    assert wrong.value.response["Error"]["Code"] == "DatabaseErrorException"
    assert 'password authentication failed for user "reports_app"' in wrong.value.response["Error"]["Message"]


def test_a_member_of_rds_replication_may_create_and_drop_replication_slots(
    aws: Callable[[str], Any], sql: Callable[..., Any]
) -> None:
    secrets = aws("secretsmanager")
    logins = {}
    for name in ("slots_member", "slots_other"):
        sql(f"CREATE ROLE {name} LOGIN PASSWORD '{name}-pw'")
        logins[name] = secrets.create_secret(
            Name=unique(name), SecretString=json.dumps({"username": name, "password": f"{name}-pw"})
        )["ARN"]
    sql("GRANT rds_replication TO slots_member")  # as the master user may on RDS (rds_superuser)

    create = "SELECT slot_name::text FROM pg_create_logical_replication_slot('member_slot', 'test_decoding')"
    assert sql(create, secret=logins["slots_member"])["records"] == [[{"stringValue": "member_slot"}]]
    sql("SELECT pg_drop_replication_slot('member_slot')", secret=logins["slots_member"])
    with pytest.raises(ClientError) as refused:
        sql(create.replace("member_slot", "other_slot"), secret=logins["slots_other"])
    assert "must be superuser or replication role" in refused.value.response["Error"]["Message"]
    assert sql("SELECT rolsuper FROM pg_roles WHERE rolname = 'slots_member'")["records"] == [[{"booleanValue": False}]]


def test_the_secret_is_checked_against_the_cluster(
    aws: Callable[[str], Any], network: dict[str, Any], cluster: dict[str, str], sql: Callable[..., Any]
) -> None:
    other = create_cluster(aws, network)
    with pytest.raises(ClientError) as foreign:
        sql("SELECT 1", secret=other["secret"])
    assert foreign.value.response["Error"]["Code"] == "ForbiddenException"

    empty = aws("secretsmanager").create_secret(Name=unique("empty"))["ARN"]
    with pytest.raises(ClientError) as no_value:
        sql("SELECT 1", secret=empty)
    assert no_value.value.response["Error"]["Code"] == "SecretsErrorException"

    not_json = aws("secretsmanager").create_secret(Name=unique("text"), SecretString="hunter2")["ARN"]
    with pytest.raises(ClientError) as invalid:
        sql("SELECT 1", secret=not_json)
    assert invalid.value.response["Error"]["Code"] == "InvalidSecretException"


def test_clusters_have_separate_databases(
    aws: Callable[[str], Any], network: dict[str, Any], sql: Callable[..., Any]
) -> None:
    other = create_cluster(aws, network)
    sql("CREATE TABLE only_in_first (id bigint)")
    seen = aws("rds-data").execute_statement(
        resourceArn=other["arn"],
        secretArn=other["secret"],
        database="payments",
        sql="SELECT count(*) FROM pg_tables WHERE tablename = 'only_in_first'",
    )
    assert seen["records"] == [[{"longValue": 0}]]


def test_the_data_api_needs_the_http_endpoint_and_a_db_instance(
    aws: Callable[[str], Any], network: dict[str, Any]
) -> None:
    for cluster, code in (
        (create_cluster(aws, network, http_endpoint=False), "HttpEndpointNotEnabledException"),
        (create_cluster(aws, network, instance=False), "DatabaseNotFoundException"),
    ):
        with pytest.raises(ClientError) as refused:
            aws("rds-data").execute_statement(resourceArn=cluster["arn"], secretArn=cluster["secret"], sql="SELECT 1")
        assert refused.value.response["Error"]["Code"] == code


def test_requests_are_checked_against_the_botocore_model_by_the_service_too(
    emulator: Emulator, cluster: dict[str, str]
) -> None:
    import boto3

    unchecked = boto3.client(
        "rds-data",
        endpoint_url=emulator.url,
        region_name="us-east-1",
        aws_access_key_id=EMULATOR_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=EMULATOR_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        config=Config(parameter_validation=False),
    )
    with pytest.raises(ClientError) as refused:
        unchecked.execute_statement(resourceArn=cluster["arn"], secretArn=cluster["secret"], sql=42)
    assert refused.value.response["Error"]["Code"] == "BadRequestException"
    assert "sql" in refused.value.response["Error"]["Message"]


def test_deleting_a_cluster_drops_its_databases(
    aws: Callable[[str], Any], network: dict[str, Any], control: LocalAwsControl
) -> None:
    doomed = create_cluster(aws, network, instance=False)
    assert doomed["arn"] in {c["cluster_arn"] for c in control.runtime()["clusters"]}
    aws("rds").delete_db_cluster(DBClusterIdentifier=doomed["identifier"], SkipFinalSnapshot=True)
    assert doomed["arn"] not in {c["cluster_arn"] for c in control.runtime()["clusters"]}
