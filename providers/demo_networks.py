"""The demo fleet's networks, derived from its services so they move with them: a Swarm overlay network and
the ingress, a Kubernetes Service per workload (its endpoints ready as its tasks are healthy) plus one that
selects nothing, ECS awsvpc networks and a target group (unhealthy targets as ELB words them). Pure."""

from __future__ import annotations

from collections.abc import Sequence

from pilothouse.providers.model import Health, Network, Reachability, Service, TaskState


def _live(service: Service) -> tuple[int, int]:
    """(healthy, total) of the tasks meant to run and running."""
    tasks = [t for t in service.tasks if t.desired_state is TaskState.RUNNING and t.state is TaskState.RUNNING]
    return sum(1 for t in tasks if t.health in (Health.HEALTHY, Health.NONE)), len(tasks)


def demo_networks(flavor: str, services: Sequence[Service]) -> tuple[Network, ...]:
    """The networks, and each service's `reachability` set in place."""
    if flavor == "swarm":
        published = [s for s in services if s.ports]
        attached = [s for s in services if s.networks]
        return (
            Network("ingress", "ingress", "overlay", "swarm", ("10.0.0.0/24",), tuple(s.ref for s in published),
                    ports=tuple(f"{p} ({s.ref})" for s in published for p in s.ports),
                    notes=("ingress: routes the published ports",), id="demo-ingress"),
            Network("shop_default", "overlay", "overlay", "swarm", ("10.0.1.0/24",),
                    tuple(s.ref for s in attached),
                    vips=tuple(f"10.0.1.{i + 2} ({s.ref})" for i, s in enumerate(attached)), id="demo-shop"),
        )
    networks: list[Network] = []
    for index, service in enumerate(services):
        healthy, total = _live(service)
        if flavor == "kubernetes":
            if service.workload_kind == "daemonset":
                continue
            service.reachability = (Reachability(f"Service {service.ref}", healthy, total),)
            networks.append(Network(
                service.ref, "ClusterIP", scope=service.namespace, services=(service.ref,), ready=healthy,
                total=total, ports=("80->8080/TCP",), vips=(f"10.96.0.{index + 10}",),
                notes=(f"selector app={service.name}",), id=f"service/{service.ref}"))
        else:
            networks.append(Network(
                f"{service.ref} awsvpc", "awsvpc", "awsvpc", service.namespace,
                ("subnet-0a1b2c3d", "subnet-4e5f6a7b"), (service.ref,),
                notes=("security groups sg-0123456789abcdef0", "public IP disabled"), id=f"vpc/{service.ref}"))
            if service.ports or service.name in ("web", "payments"):
                reasons = ("Target.ResponseCodeMismatch",) if healthy < total else ()
                service.reachability = (Reachability(f"target group {service.name}-tg", healthy, total, "targets",
                                                     reasons),)
                unhealthy = total - healthy
                said = f"{unhealthy} target{'s' if unhealthy != 1 else ''} unhealthy: Target.ResponseCodeMismatch"
                networks.append(Network(
                    f"{service.name}-tg", "target group", "elbv2", service.namespace, services=(service.ref,),
                    ready=healthy, total=total, ports=(f"{service.name}:8080",), notes=(said,) if unhealthy else (),
                    id=f"tg/{service.ref}"))
    if flavor == "kubernetes":
        networks.append(Network("prod/legacy-admin", "ClusterIP", scope="prod", ready=0, total=0,
                                ports=("80->8080/TCP",), vips=("10.96.0.9",),
                                notes=("selects no pods", "selector app=legacy-admin"), id="service/prod/legacy"))
    return tuple(sorted(networks, key=lambda n: n.name))
