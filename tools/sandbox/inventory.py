"""What exists in the emulator, by kind, so that "destroy left nothing behind" can be checked by API.

The check compares two inventories: one taken before ``apply`` (moto's own defaults such as the default
VPC, public SSM parameters and AWS managed IAM policies are in it) and one taken after ``destroy``.
Anything in the second that is not in the first was created by the stack and survived its destroy (the runner
then sets apart what ``make destroy`` said it keeps, such as the database's final snapshot).
Resources AWS keeps for a while after deletion are not "left": terminated instances, deleted NAT
gateways, and KMS keys pending deletion (AWS's minimum waiting period is 7 days). Neither are what AWS
creates on its own when a service is first used: AWS managed KMS keys and public ``/aws/`` SSM parameters.

Regional kinds are listed in the stack's region and in us-east-1 (:data:`EDGE_REGION`), where every stack keeps its
CloudFront web ACL, that ACL's key, log group and Firehose stream whatever its own region: an item found only there
is named with `` in us-east-1``. Global kinds (IAM, S3, CloudFront, Route 53) are listed once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from tools.sandbox.emulator import client

Inventory = dict[str, set[str]]
Lister = Callable[[Callable[[str], Any]], Iterable[str]]

# CloudFront's region: its web ACLs (scope CLOUDFRONT) and what the stack creates beside them live here.
EDGE_REGION = "us-east-1"


def _pages(api: Any, operation: str, key: str, **kwargs: Any) -> list[Any]:
    """All items under ``key`` across a paginated list call."""
    if api.can_paginate(operation):
        items: list[Any] = []
        for page in api.get_paginator(operation).paginate(**kwargs):
            items.extend(page.get(key, []))
        return items
    return list(getattr(api, operation)(**kwargs).get(key, []))


def _ec2(c: Callable[[str], Any]) -> Iterable[str]:
    ec2 = c("ec2")
    yield from (f"vpc {v['VpcId']}" for v in _pages(ec2, "describe_vpcs", "Vpcs"))
    yield from (f"subnet {s['SubnetId']}" for s in _pages(ec2, "describe_subnets", "Subnets"))
    yield from (f"security-group {g['GroupId']}" for g in _pages(ec2, "describe_security_groups", "SecurityGroups"))
    yield from (f"route-table {r['RouteTableId']}" for r in _pages(ec2, "describe_route_tables", "RouteTables"))
    yield from (
        f"internet-gateway {g['InternetGatewayId']}"
        for g in _pages(ec2, "describe_internet_gateways", "InternetGateways")
    )
    yield from (
        f"nat-gateway {n['NatGatewayId']}"
        for n in _pages(ec2, "describe_nat_gateways", "NatGateways")
        if n.get("State") not in ("deleted", "deleting")
    )
    yield from (
        f"elastic-ip {a.get('AllocationId', a.get('PublicIp'))}" for a in ec2.describe_addresses().get("Addresses", [])
    )
    yield from (
        f"vpc-endpoint {e['VpcEndpointId']}"
        for e in _pages(ec2, "describe_vpc_endpoints", "VpcEndpoints")
        if e.get("State", "").lower() not in ("deleted", "deleting")
    )
    yield from (f"flow-log {f['FlowLogId']}" for f in _pages(ec2, "describe_flow_logs", "FlowLogs"))
    yield from (
        f"launch-template {t['LaunchTemplateId']}" for t in _pages(ec2, "describe_launch_templates", "LaunchTemplates")
    )
    for reservation in _pages(ec2, "describe_instances", "Reservations"):
        yield from (
            f"instance {i['InstanceId']}"
            for i in reservation.get("Instances", [])
            if i.get("State", {}).get("Name") not in ("terminated", "shutting-down")
        )


def _load_balancing(c: Callable[[str], Any]) -> Iterable[str]:
    elbv2 = c("elbv2")
    yield from (
        f"load-balancer {lb['LoadBalancerArn']}" for lb in _pages(elbv2, "describe_load_balancers", "LoadBalancers")
    )
    yield from (
        f"target-group {tg['TargetGroupArn']}" for tg in _pages(elbv2, "describe_target_groups", "TargetGroups")
    )
    autoscaling = c("autoscaling")
    yield from (
        f"autoscaling-group {g['AutoScalingGroupName']}"
        for g in _pages(autoscaling, "describe_auto_scaling_groups", "AutoScalingGroups")
    )
    yield from (f"scaling-policy {p['PolicyARN']}" for p in _pages(autoscaling, "describe_policies", "ScalingPolicies"))


def _database(c: Callable[[str], Any]) -> Iterable[str]:
    rds = c("rds")
    yield from (f"db-instance {d['DBInstanceIdentifier']}" for d in _pages(rds, "describe_db_instances", "DBInstances"))
    yield from (
        f"db-subnet-group {g['DBSubnetGroupName']}" for g in _pages(rds, "describe_db_subnet_groups", "DBSubnetGroups")
    )
    yield from (
        f"db-parameter-group {g['DBParameterGroupName']}"
        for g in _pages(rds, "describe_db_parameter_groups", "DBParameterGroups")
        if not g["DBParameterGroupName"].startswith("default.")
    )
    # Snapshots outlive their instance: make destroy's final snapshot is one, kept on purpose (the runner's leftover
    # check lists it as kept); any other is a leftover.
    yield from (f"db-snapshot {s['DBSnapshotIdentifier']}" for s in _pages(rds, "describe_db_snapshots", "DBSnapshots"))
    secrets = c("secretsmanager")
    # Deleted secrets wait out their recovery window; list_secrets leaves them out by default, like AWS.
    yield from (f"secret {s['ARN']}" for s in _pages(secrets, "list_secrets", "SecretList"))
    ssm = c("ssm")
    # Names under /aws/ are AWS's public parameters (moto loads them on first read); no account can create them.
    yield from (
        f"ssm-parameter {p['Name']}"
        for p in _pages(ssm, "describe_parameters", "Parameters")
        if not p["Name"].startswith("/aws/")
    )


def _storage_and_edge(c: Callable[[str], Any]) -> Iterable[str]:
    yield from (f"s3-bucket {b['Name']}" for b in c("s3").list_buckets().get("Buckets", []))
    cloudfront = c("cloudfront")
    distributions = cloudfront.list_distributions().get("DistributionList", {}).get("Items", [])
    yield from (f"cloudfront-distribution {d['Id']}" for d in distributions)
    controls = cloudfront.list_origin_access_controls().get("OriginAccessControlList", {}).get("Items", [])
    yield from (f"origin-access-control {o['Id']}" for o in controls)
    policies = cloudfront.list_response_headers_policies(Type="custom").get("ResponseHeadersPolicyList", {})
    yield from (f"response-headers-policy {p['ResponseHeadersPolicy']['Id']}" for p in policies.get("Items", []))
    yield from _route53(c)


def _route53(c: Callable[[str], Any]) -> Iterable[str]:
    """Hosted zones and the records in them; a zone's own SOA and NS records come and go with the zone."""
    route53 = c("route53")
    for zone in _pages(route53, "list_hosted_zones", "HostedZones"):
        zone_id = zone["Id"].rsplit("/", 1)[-1]
        yield f"hosted-zone {zone_id} ({zone['Name']})"
        yield from (
            f"dns-record {zone_id} {r['Name']} {r['Type']}"
            for r in _pages(route53, "list_resource_record_sets", "ResourceRecordSets", HostedZoneId=zone_id)
            if r["Type"] not in ("SOA", "NS")
        )


def _observability(c: Callable[[str], Any]) -> Iterable[str]:
    yield from (f"log-group {g['logGroupName']}" for g in _pages(c("logs"), "describe_log_groups", "logGroups"))
    cloudwatch = c("cloudwatch")
    yield from (f"alarm {a['AlarmName']}" for a in _pages(cloudwatch, "describe_alarms", "MetricAlarms"))
    yield from (f"dashboard {d['DashboardName']}" for d in _pages(cloudwatch, "list_dashboards", "DashboardEntries"))
    sns = c("sns")
    yield from (f"sns-topic {t['TopicArn']}" for t in _pages(sns, "list_topics", "Topics"))
    yield from (f"sns-subscription {s['SubscriptionArn']}" for s in _pages(sns, "list_subscriptions", "Subscriptions"))
    # The stack's parameters and the migration hosts' results (written by the hosts, deleted by make destroy); not AWS's
    # public /aws/service/... parameters, which moto lists once something read one (the AMI lookup).
    parameters = _pages(c("ssm"), "describe_parameters", "Parameters")
    yield from (f"ssm-parameter {p['Name']}" for p in parameters if not p["Name"].startswith("/aws/"))


def _firewalls(c: Callable[[str], Any]) -> Iterable[str]:
    """Regional web ACLs; in us-east-1 also the CLOUDFRONT-scope ones (WAF takes that scope only there)."""
    wafv2 = c("wafv2")
    scopes = ("REGIONAL", "CLOUDFRONT") if wafv2.meta.region_name == EDGE_REGION else ("REGIONAL",)
    for scope in scopes:
        yield from (f"waf-web-acl {a['ARN']}" for a in _web_acls(wafv2, scope))


def _web_acls(wafv2: Any, scope: str) -> list[Any]:
    """Every web ACL of ``scope`` (ListWebACLs pages by NextMarker; boto3 has no paginator for it)."""
    acls: list[Any] = []
    kwargs: dict[str, Any] = {"Scope": scope}
    while True:
        page = wafv2.list_web_acls(**kwargs)
        acls.extend(page.get("WebACLs", []))
        if not page.get("NextMarker") or not page.get("WebACLs"):
            return acls
        kwargs["NextMarker"] = page["NextMarker"]


def _detection_and_backup(c: Callable[[str], Any]) -> Iterable[str]:
    """The security alerts' metric filters, the log groups' subscription filters, EventBridge rules and their targets,
    RDS event subscriptions, and AWS Backup's vaults, (not deleted) plans and their selections."""
    logs = c("logs")
    yield from (f"metric-filter {f['filterName']}" for f in _pages(logs, "describe_metric_filters", "metricFilters"))
    for group in _pages(logs, "describe_log_groups", "logGroups"):
        name = group["logGroupName"]
        yield from (
            f"subscription-filter {name} {f['filterName']}"
            for f in _pages(logs, "describe_subscription_filters", "subscriptionFilters", logGroupName=name)
        )
    events = c("events")
    for rule in _pages(events, "list_rules", "Rules"):
        yield f"event-rule {rule['Name']}"
        yield from (
            f"event-target {rule['Name']} {t['Id']}"
            for t in _pages(events, "list_targets_by_rule", "Targets", Rule=rule["Name"])
        )
    yield from (
        f"rds-event-subscription {s['CustSubscriptionId']}"
        for s in _pages(c("rds"), "describe_event_subscriptions", "EventSubscriptionsList")
    )
    backup = c("backup")
    yield from (f"backup-vault {v['BackupVaultName']}" for v in backup.list_backup_vaults().get("BackupVaultList", []))
    for plan in backup.list_backup_plans().get("BackupPlansList", []):
        yield f"backup-plan {plan['BackupPlanName']}"
        selections = backup.list_backup_selections(BackupPlanId=plan["BackupPlanId"]).get("BackupSelectionsList", [])
        yield from (f"backup-selection {plan['BackupPlanName']} {s['SelectionName']}" for s in selections)


def _delivery_and_functions(c: Callable[[str], Any]) -> Iterable[str]:
    """Firehose delivery streams, Lambda functions and the account's own SSM documents (not AWS's, Owner=Self)."""
    yield from (f"firehose-stream {name}" for name in _delivery_streams(c("firehose")))
    yield from (f"lambda-function {f['FunctionName']}" for f in _pages(c("lambda"), "list_functions", "Functions"))
    yield from (
        f"ssm-document {d['Name']}"
        for d in _pages(
            c("ssm"), "list_documents", "DocumentIdentifiers", Filters=[{"Key": "Owner", "Values": ["Self"]}]
        )
    )


def _delivery_streams(firehose: Any) -> list[str]:
    """Every delivery stream's name (ListDeliveryStreams pages by the last name; boto3 has no paginator for it)."""
    names: list[str] = []
    kwargs: dict[str, Any] = {}
    while True:
        page = firehose.list_delivery_streams(**kwargs)
        names.extend(page.get("DeliveryStreamNames", []))
        if not page.get("HasMoreDeliveryStreams") or not page.get("DeliveryStreamNames"):
            return names
        kwargs["ExclusiveStartDeliveryStreamName"] = names[-1]


def _identity(c: Callable[[str], Any]) -> Iterable[str]:
    iam = c("iam")
    yield from (f"iam-role {r['RoleName']}" for r in _pages(iam, "list_roles", "Roles"))
    yield from (
        f"instance-profile {p['InstanceProfileName']}"
        for p in _pages(iam, "list_instance_profiles", "InstanceProfiles")
    )
    yield from (f"iam-policy {p['Arn']}" for p in _pages(iam, "list_policies", "Policies", Scope="Local"))


def _keys_and_certificates(c: Callable[[str], Any]) -> Iterable[str]:
    kms = c("kms")
    for key in _pages(kms, "list_keys", "Keys"):
        metadata = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
        # AWS managed keys (aws/rds, aws/ssm, ...) appear on first use of a service, in AWS as in moto.
        if metadata.get("KeyManager") == "AWS":
            continue
        if metadata.get("KeyState") not in ("PendingDeletion", "PendingReplicaDeletion"):
            yield f"kms-key {key['KeyId']} ({metadata.get('KeyState')})"
    yield from (
        f"kms-alias {a['AliasName']}"
        for a in _pages(kms, "list_aliases", "Aliases")
        if not a["AliasName"].startswith("alias/aws/")
    )
    yield from (
        f"acm-certificate {cert['CertificateArn']}"
        for cert in _pages(c("acm"), "list_certificates", "CertificateSummaryList")
    )


GLOBAL_LISTERS: tuple[tuple[str, Lister], ...] = (
    ("s3, cloudfront, route 53", _storage_and_edge),
    ("iam", _identity),
)
REGIONAL_LISTERS: tuple[tuple[str, Lister], ...] = (
    ("ec2", _ec2),
    ("load balancing and auto scaling", _load_balancing),
    ("database, secrets, parameters", _database),
    ("waf", _firewalls),
    ("logs, alarms, sns", _observability),
    ("kms, acm", _keys_and_certificates),
    ("metric filters, event rules, backup", _detection_and_backup),
    ("firehose, lambda, ssm documents", _delivery_and_functions),
)


def take_inventory(endpoint: str, region: str) -> tuple[Inventory, list[str]]:
    """List everything the stack could create, in ``region`` and in :data:`EDGE_REGION`; return
    ``(inventory, errors)``.

    A kind whose listing fails is reported in ``errors`` (and then cannot prove anything), rather than
    silently counted as empty.
    """
    inventory: Inventory = {}
    errors: list[str] = []
    passes = [(group, lister, region, "") for group, lister in (*GLOBAL_LISTERS, *REGIONAL_LISTERS)]
    if region != EDGE_REGION:
        where = f" in {EDGE_REGION}"
        passes.extend((group + where, lister, EDGE_REGION, where) for group, lister in REGIONAL_LISTERS)
    clients: dict[tuple[str, str], Any] = {}
    for group, lister, lister_region, where in passes:

        def get(service: str, in_region: str = lister_region) -> Any:
            if (service, in_region) not in clients:
                clients[service, in_region] = client(service, endpoint, in_region)
            return clients[service, in_region]

        try:
            inventory[group] = {item + where for item in lister(get)}
        except Exception as err:  # pylint: disable=broad-exception-caught  # report every failing kind at once
            errors.append(f"{group}: {type(err).__name__}: {err}")
            inventory[group] = set()
    return inventory, errors


def leftovers(before: Inventory, after: Inventory) -> list[str]:
    """What exists after destroy that did not exist before apply, sorted for stable reports."""
    left: list[str] = []
    for group, items in after.items():
        left.extend(sorted(items - before.get(group, set())))
    return left
