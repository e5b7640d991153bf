"""The semantics of `kubectl rollout status` and `kubectl rollout undo`, on plain dicts.

A Deployment's history is the ReplicaSets it owns (revision annotation); a StatefulSet's or a DaemonSet's
is its ControllerRevisions. The rollout state and message are kubectl's own words; a rollback target is
the one `kubectl rollout undo` would pick, refused (NotSupported) where kubectl refuses. Pure: no I/O.
"""

from __future__ import annotations

from pilothouse.providers.errors import NotSupported
from pilothouse.providers.kubernetes.objects import (
    OWNER_KIND,
    REVISION_ANNOTATION,
    Obj,
    _conditions,
    _dict,
    _int,
    _revision_by_name,
    _revision_template,
    _str,
    describe_revision,
    meta_of,
    owned_by,
    parse_time,
    revision_of,
    template_without_hash,
)
from pilothouse.providers.model import Rollout, RolloutState

# Annotations `kubectl rollout undo` keeps from the Deployment instead of copying from the ReplicaSet.
UNDO_SKIPPED_ANNOTATIONS = frozenset({
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION_ANNOTATION,
    "deployment.kubernetes.io/revision-history",
    "deployment.kubernetes.io/desired-replicas",
    "deployment.kubernetes.io/max-replicas",
    "deprecated.deployment.rollback.to",
})


# -- rollouts (the semantics of `kubectl rollout status`) --------------------------------------------


def find_new_replicaset(deployment: Obj, replicasets: list[Obj]) -> Obj | None:
    """The ReplicaSet whose template equals the Deployment's, ignoring pod-template-hash (oldest first)."""
    wanted = template_without_hash(_dict(deployment.get("spec")).get("template"))
    ordered = sorted(replicasets, key=lambda rs: (_str(meta_of(rs).get("creationTimestamp")), revision_of(rs)))
    for rs in ordered:
        if template_without_hash(_dict(rs.get("spec")).get("template")) == wanted:
            return rs
    return None


def deployment_rollout(deployment: Obj, new_rs: Obj | None, old_rss: list[Obj]) -> Rollout:
    meta, spec, status = meta_of(deployment), _dict(deployment.get("spec")), _dict(deployment.get("status"))
    name = _str(meta.get("name"))
    desired = _int(spec.get("replicas"), 1)
    updated = _int(status.get("updatedReplicas"))
    replicas = _int(status.get("replicas"))
    available = _int(status.get("availableReplicas"))
    progressing = _conditions(status).get("Progressing", {})

    previous = max(old_rss, key=revision_of, default=None)
    live_old = [rs for rs in old_rss if _int(_dict(rs.get("spec")).get("replicas")) > 0
                or _int(_dict(rs.get("status")).get("replicas")) > 0]
    if live_old:
        previous = max(live_old, key=revision_of)
    to_template = _dict(new_rs.get("spec")).get("template") if new_rs else spec.get("template")
    to_revision = revision_of(new_rs) if new_rs else -1
    rollout = Rollout(
        updated=updated, total=desired,
        from_version=describe_revision(_dict(previous.get("spec")).get("template"), revision_of(previous))
        if previous else "",
        to_version=describe_revision(to_template, to_revision),
        started=parse_time(meta_of(new_rs).get("creationTimestamp")) if new_rs else None,
    )
    if spec.get("paused") is True:
        rollout.state = RolloutState.PAUSED
        rollout.message = f'deployment "{name}" is paused: {updated} of {desired} replicas updated'
    elif _int(meta.get("generation")) <= _int(status.get("observedGeneration")):
        if progressing.get("reason") == "ProgressDeadlineExceeded":
            rollout.state = RolloutState.FAILED
            detail = _str(progressing.get("message"))
            rollout.message = f'deployment "{name}" exceeded its progress deadline' + (f": {detail}" if detail else "")
        elif updated < desired:
            rollout.state = RolloutState.UPDATING
            rollout.message = (f'Waiting for deployment "{name}" rollout to finish: {updated} out of {desired} '
                               "new replicas have been updated...")
        elif replicas > updated:
            rollout.state = RolloutState.UPDATING
            rollout.message = (f'Waiting for deployment "{name}" rollout to finish: {replicas - updated} old '
                               "replicas are pending termination...")
        elif available < updated:
            rollout.state = RolloutState.UPDATING
            rollout.message = (f'Waiting for deployment "{name}" rollout to finish: {available} of {updated} '
                               "updated replicas are available...")
        else:
            rollout.state = RolloutState.STABLE
            rollout.message = f'deployment "{name}" successfully rolled out'
            if progressing.get("reason") == "NewReplicaSetAvailable":
                rollout.finished = parse_time(progressing.get("lastUpdateTime"))
    else:
        rollout.state = RolloutState.UPDATING
        rollout.message = "Waiting for deployment spec update to be observed..."
    return rollout


def statefulset_rollout(sts: Obj, revisions: list[Obj]) -> Rollout:
    meta, spec, status = meta_of(sts), _dict(sts.get("spec")), _dict(sts.get("status"))
    replicas = _int(spec.get("replicas"), 1)
    strategy = _dict(spec.get("updateStrategy"))
    rolling = strategy.get("rollingUpdate")
    partition = _dict(rolling).get("partition") if isinstance(rolling, dict) else None
    current_name, update_name = _str(status.get("currentRevision")), _str(status.get("updateRevision"))
    current, update = _revision_by_name(revisions, current_name), _revision_by_name(revisions, update_name)
    ready, updated = _int(status.get("readyReplicas")), _int(status.get("updatedReplicas"))
    total = replicas - _int(partition) if partition is not None else replicas
    rollout = Rollout(
        updated=updated, total=max(total, 0),
        from_version=describe_revision(_revision_template(current), revision_of(current or {}))
        if current_name and current_name != update_name else "",
        to_version=describe_revision(_revision_template(update) or spec.get("template"),
                                     revision_of(update) if update else -1),
    )
    observed = _int(status.get("observedGeneration"))
    if (_str(strategy.get("type")) or "RollingUpdate") != "RollingUpdate":
        rollout.state = RolloutState.UPDATING if current_name != update_name else RolloutState.STABLE
        rollout.message = "rollout status is only available for RollingUpdate strategy type"
    elif observed == 0 or _int(meta.get("generation")) > observed:
        rollout.state, rollout.message = RolloutState.UPDATING, "Waiting for statefulset spec update to be observed..."
    elif ready < replicas:
        rollout.state, rollout.message = RolloutState.UPDATING, f"Waiting for {replicas - ready} pods to be ready..."
    elif partition is not None:
        if updated < total:
            rollout.state = RolloutState.UPDATING
            rollout.message = (f"Waiting for partitioned roll out to finish: {updated} out of {total} new pods "
                               "have been updated...")
        else:
            rollout.state = RolloutState.STABLE
            rollout.message = f"partitioned roll out complete: {updated} new pods have been updated..."
    elif update_name != current_name:
        rollout.state = RolloutState.UPDATING
        rollout.message = (f"waiting for statefulset rolling update to complete {updated} pods at revision "
                           f"{update_name}...")
    else:
        rollout.state = RolloutState.STABLE
        rollout.message = (f"statefulset rolling update complete {_int(status.get('currentReplicas'))} pods at "
                           f"revision {current_name}...")
    return rollout


def daemonset_rollout(ds: Obj, revisions: list[Obj]) -> Rollout:
    meta, spec, status = meta_of(ds), _dict(ds.get("spec")), _dict(ds.get("status"))
    name = _str(meta.get("name"))
    desired = _int(status.get("desiredNumberScheduled"))
    updated = _int(status.get("updatedNumberScheduled"))
    available = _int(status.get("numberAvailable"))
    ordered = sorted(revisions, key=revision_of)
    newest = ordered[-1] if ordered else None
    previous = ordered[-2] if len(ordered) > 1 else None
    rollout = Rollout(
        updated=updated, total=desired,
        from_version=describe_revision(_revision_template(previous), revision_of(previous)) if previous else "",
        to_version=describe_revision(_revision_template(newest) or spec.get("template"),
                                     revision_of(newest) if newest else -1),
    )
    if (_str(_dict(spec.get("updateStrategy")).get("type")) or "RollingUpdate") != "RollingUpdate":
        rollout.state = RolloutState.STABLE
        rollout.message = "rollout status is only available for RollingUpdate strategy type"
    elif _int(meta.get("generation")) <= _int(status.get("observedGeneration")):
        if updated < desired:
            rollout.state = RolloutState.UPDATING
            rollout.message = (f'Waiting for daemon set "{name}" rollout to finish: {updated} out of {desired} '
                               "new pods have been updated...")
        elif available < desired:
            rollout.state = RolloutState.UPDATING
            rollout.message = (f'Waiting for daemon set "{name}" rollout to finish: {available} of {desired} '
                               "updated pods are available...")
        else:
            rollout.state = RolloutState.STABLE
            rollout.message = f'daemon set "{name}" successfully rolled out'
    else:
        rollout.state, rollout.message = RolloutState.UPDATING, "Waiting for daemon set spec update to be observed..."
    return rollout


# -- rollback targets (the semantics of `kubectl rollout undo`) --------------------------------------


def deployment_rollback_target(deployment: Obj, replicasets: list[Obj]) -> Obj:
    """The owned ReplicaSet with the second-highest revision; NotSupported when none or already current."""
    name = _str(meta_of(deployment).get("name"))
    if _dict(deployment.get("spec")).get("paused") is True:
        raise NotSupported(
            f'you cannot rollback a paused deployment "{name}"',
            "resume it first with 'kubectl rollout resume' and try again",
        )
    owned = [rs for rs in replicasets if owned_by(rs, deployment, "Deployment") and revision_of(rs) >= 0]
    ordered = sorted(owned, key=revision_of)
    if len(ordered) < 2:
        raise NotSupported(f'no rollout history found for deployment "{name}"')
    target = ordered[-2]
    current = template_without_hash(_dict(deployment.get("spec")).get("template"))
    if template_without_hash(_dict(target.get("spec")).get("template")) == current:
        raise NotSupported(
            f"skipped rollback (current template already matches revision {revision_of(target)})",
            "nothing to roll back",
        )
    return target


def deployment_undo_patch(deployment: Obj, target: Obj) -> list[Obj]:
    """kubectl's JSON patch: the ReplicaSet's template minus its hash, and its annotations."""
    annotations = {
        k: v for k, v in _dict(meta_of(deployment).get("annotations")).items() if k in UNDO_SKIPPED_ANNOTATIONS
    }
    annotations.update({
        k: v for k, v in _dict(meta_of(target).get("annotations")).items() if k not in UNDO_SKIPPED_ANNOTATIONS
    })
    return [
        {"op": "replace", "path": "/spec/template",
         "value": template_without_hash(_dict(target.get("spec")).get("template"))},
        {"op": "replace", "path": "/metadata/annotations", "value": annotations},
    ]


def revision_rollback_target(kind: str, workload: Obj, revisions: list[Obj]) -> Obj:
    """StatefulSet/DaemonSet: the second-highest ControllerRevision, unless it is already current."""
    name = _str(meta_of(workload).get("name"))
    owned = sorted((r for r in revisions if owned_by(r, workload, OWNER_KIND[kind])), key=revision_of)
    if len(owned) < 2:
        raise NotSupported(f'no last revision to roll back to for {kind} "{name}"')
    target = owned[-2]
    current = template_without_hash(_dict(workload.get("spec")).get("template"))
    if template_without_hash(_revision_template(target)) == current:
        raise NotSupported(
            f"skipped rollback (current template already matches revision {revision_of(target)})",
            "nothing to roll back",
        )
    return target


