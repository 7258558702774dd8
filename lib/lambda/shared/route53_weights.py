"""Weighted Route53 records shared by the cutover driver (traffic_shifter) and rollback.

Both functions read the same environment (HOSTED_ZONE_ID, RECORD_NAME, NEW_SET_IDENTIFIER,
LEGACY_SET_IDENTIFIER), list the records of the "new" and "legacy" set identifiers under
one name (every record type), and write their weights back in a single change batch that
only changes Weight. The caller passes its own route53 client (see lambda_support.ClientCache).
"""

MAX_COMMENT_LENGTH = 256


def normalize_name(name):
    name = name.strip().lower()
    return name if name.endswith(".") else name + "."


def weighted_record_config(environ):
    """{"zone_id", "record_name", "new_id", "legacy_id"} from the environment.

    HOSTED_ZONE_ID and RECORD_NAME must be set (the caller reports them missing first).
    Raises ValueError with a client-safe reason when both set identifiers are equal.
    """
    new_id = environ.get("NEW_SET_IDENTIFIER") or "new"
    legacy_id = environ.get("LEGACY_SET_IDENTIFIER") or "legacy"
    if new_id == legacy_id:
        raise ValueError("NEW_SET_IDENTIFIER equals LEGACY_SET_IDENTIFIER")
    return {
        "zone_id": environ["HOSTED_ZONE_ID"],
        "record_name": normalize_name(environ["RECORD_NAME"]),
        "new_id": new_id,
        "legacy_id": legacy_id,
    }


def list_records_by_set(route53, config):
    """(new records, legacy records) under config["record_name"]; other set identifiers are skipped."""
    found: dict[str, list[dict]] = {config["new_id"]: [], config["legacy_id"]: []}
    request = {"HostedZoneId": config["zone_id"], "StartRecordName": config["record_name"]}
    seen_name = False
    while True:
        page = route53.list_resource_record_sets(**request)
        for record in page.get("ResourceRecordSets", []):
            if normalize_name(record["Name"]) != config["record_name"]:
                if seen_name:  # records are sorted by name: we are past ours
                    return found[config["new_id"]], found[config["legacy_id"]]
                continue
            seen_name = True
            if record.get("SetIdentifier") in found:
                found[record["SetIdentifier"]].append(record)
        if not page.get("IsTruncated"):
            return found[config["new_id"]], found[config["legacy_id"]]
        request = {"HostedZoneId": config["zone_id"], "StartRecordName": page["NextRecordName"]}
        for source, target in (
            ("NextRecordType", "StartRecordType"),
            ("NextRecordIdentifier", "StartRecordIdentifier"),
        ):
            if page.get(source):
                request[target] = page[source]


def weight_upserts(groups, *, skip_unchanged=False):
    """UPSERTs giving every record of each (records, weight) group that weight; only Weight changes.

    With skip_unchanged, records already at their weight are left out.
    """
    return [
        {"Action": "UPSERT", "ResourceRecordSet": {**record, "Weight": weight}}
        for records, weight in groups
        for record in records
        if not (skip_unchanged and record.get("Weight") == weight)
    ]


def alias_health_upserts(records, evaluate):
    """UPSERTs setting EvaluateTargetHealth of the alias records among `records` to `evaluate`;
    records already so (and non-alias records) are left out. Only that flag changes."""
    return [
        {
            "Action": "UPSERT",
            "ResourceRecordSet": {**record, "AliasTarget": {**record["AliasTarget"], "EvaluateTargetHealth": evaluate}},
        }
        for record in records
        if "AliasTarget" in record and record["AliasTarget"].get("EvaluateTargetHealth") is not evaluate
    ]


def submit_changes(route53, zone_id, changes, comment):
    """Sends the changes as ONE change batch (applied atomically); returns its ChangeInfo."""
    response = route53.change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={"Comment": comment[:MAX_COMMENT_LENGTH], "Changes": changes},
    )
    return response["ChangeInfo"]
