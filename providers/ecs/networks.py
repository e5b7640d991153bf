"""ECS networks: each service's awsvpc subnets and security groups (networkConfiguration), and the target
groups of its load balancers with their targets' health (elbv2 DescribeTargetHealth).

A target group's `ready` counts healthy targets and `total` every registered target that is not draining or
unused (those take no traffic on purpose); the reasons of the others are kept as ELB words them
("Target.ResponseCodeMismatch"). Each service using a target group gets a Reachability in targets.
Target groups are named from their ARN (…:targetgroup/NAME/ID): no DescribeTargetGroups call. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from pilothouse.providers.ecs.raw import Raw, as_dict, as_str, dicts
from pilothouse.providers.model import Network, Reachability

IDLE_STATES = frozenset({"draining", "unused"})


def target_group_arns(services: Iterable[Raw]) -> list[str]:
    """Every target group the services' load balancers name, once each, in a stable order."""
    arns: dict[str, None] = {}
    for service in services:
        for balancer in dicts(service.get("loadBalancers")):
            arn = as_str(balancer.get("targetGroupArn"))
            if arn:
                arns[arn] = None
    return list(arns)


def target_group_name(arn: str) -> str:
    _, _, tail = arn.partition(":targetgroup/")
    return tail.split("/", 1)[0] if tail else arn


def target_counts(descriptions: Sequence[Raw]) -> tuple[int, int, tuple[str, ...]]:
    """(healthy, total that should take traffic, distinct reasons of the unhealthy ones)."""
    healthy, total, reasons = 0, 0, dict[str, None]()
    for description in descriptions:
        health = as_dict(description.get("TargetHealth"))
        state = as_str(health.get("State")).lower()
        if state in IDLE_STATES:
            continue
        total += 1
        if state == "healthy":
            healthy += 1
        else:
            reasons[as_str(health.get("Reason")) or state or "unknown"] = None
    return healthy, total, tuple(reasons)


def build_networks(
    cluster_name: str, services: Sequence[Raw], target_health: Mapping[str, Sequence[Raw]] | None,
) -> tuple[list[Network], dict[str, list[Reachability]]]:
    """The networks of one ECS cluster, and each service's reachability by service ARN. `target_health`
    None: not read (its gap is said elsewhere): target groups are shown without counts."""
    networks: list[Network] = []
    reach: dict[str, list[Reachability]] = {}
    users: dict[str, list[str]] = {}
    ports: dict[str, list[str]] = {}
    for service in services:
        name = as_str(service.get("serviceName"))
        ref = f"{cluster_name}/{name}"
        vpc = as_dict(as_dict(service.get("networkConfiguration")).get("awsvpcConfiguration"))
        if vpc:
            groups = [as_str(g) for g in vpc.get("securityGroups") or [] if as_str(g)]
            notes = [f"security groups {', '.join(groups)}" if groups else "no security group"]
            if as_str(vpc.get("assignPublicIp")):
                notes.append(f"public IP {as_str(vpc.get('assignPublicIp')).lower()}")
            networks.append(Network(
                name=f"{ref} awsvpc", kind="awsvpc", driver="awsvpc", scope=cluster_name,
                subnets=tuple(as_str(s) for s in vpc.get("subnets") or [] if as_str(s)), services=(ref,),
                notes=tuple(notes), id=as_str(service.get("serviceArn")) + "#awsvpc"))
        for balancer in dicts(service.get("loadBalancers")):
            arn = as_str(balancer.get("targetGroupArn"))
            if not arn:
                continue
            users.setdefault(arn, []).append(ref)
            container = as_str(balancer.get("containerName"))
            number = balancer.get("containerPort")
            port = str(number) if isinstance(number, int) and not isinstance(number, bool) else "?"
            ports.setdefault(arn, []).append(f"{container}:{port}" if container else port)
            if target_health is not None and arn in target_health:
                healthy, total, reasons = target_counts(target_health[arn])
                reach.setdefault(as_str(service.get("serviceArn")), []).append(Reachability(
                    f"target group {target_group_name(arn)}", healthy, total, "targets", reasons))
    for arn, refs in users.items():
        counts = target_counts(target_health[arn]) if target_health is not None and arn in target_health else None
        group_notes: tuple[str, ...] = ()
        if counts is not None and counts[2]:
            unhealthy = counts[1] - counts[0]
            group_notes = (f"{unhealthy} target{'s' if unhealthy != 1 else ''} unhealthy: {', '.join(counts[2])}",)
        networks.append(Network(
            name=target_group_name(arn), kind="target group", driver="elbv2", scope=cluster_name,
            services=tuple(sorted(set(refs))), ready=counts[0] if counts else None,
            total=counts[1] if counts else None, ports=tuple(dict.fromkeys(ports.get(arn, []))), notes=group_notes,
            id=arn))
    return networks, reach
