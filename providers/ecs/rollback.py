"""Which task definition a rollback goes back to, and the provider's own record of revisions it saw.

In order: during a deployment in progress, the ACTIVE (previous) deployment's task definition; else the
source revision of the last successful deployment (ListServiceDeployments, where the API offers it); else
the revisions this provider saw the service run (RevisionRecord: ecs-revisions.json in the state dir the
console gives, ClusterConfig.state_dir, or in memory only when it gives none); else NotSupported naming the
family, so the operator picks a revision.
"""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime
from pathlib import Path

from pilothouse.providers.ecs.client import AwsClients
from pilothouse.providers.ecs.mapping import primary_and_active
from pilothouse.providers.ecs.raw import Raw, as_dict, as_str, as_time, dicts, task_definition_family
from pilothouse.providers.errors import CredentialsError, NotSupported, ProviderError, Throttled, Unreachable

REVISIONS_FILE = "ecs-revisions.json"
REVISIONS_KEPT = 10


class RevisionRecord:
    """Service ARN -> task definition ARNs it was seen running, oldest first. Small, merged on save.

    `path` None keeps the record in memory only (the console gave no state dir).
    """

    _lock = threading.Lock()  # one file for every ECS provider in the process

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.history: dict[str, list[str]] = self._read()
        self._dirty = False

    @classmethod
    def in_state_dir(cls, state_dir: Path | None) -> RevisionRecord:
        return cls(state_dir / REVISIONS_FILE if state_dir is not None else None)

    def _read(self) -> dict[str, list[str]]:
        if self.path is None:
            return {}
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict):
            return {}
        return {str(k): [str(x) for x in v if isinstance(x, str)] for k, v in data.items() if isinstance(v, list)}

    def observe(self, service_arn: str, task_definition_arn: str) -> None:
        if not service_arn or not task_definition_arn:
            return
        seen = self.history.setdefault(service_arn, [])
        if seen and seen[-1] == task_definition_arn:
            return
        if task_definition_arn in seen:
            seen.remove(task_definition_arn)
        seen.append(task_definition_arn)
        del seen[:-REVISIONS_KEPT]
        self._dirty = True

    def previous(self, service_arn: str, current: str) -> str:
        seen = self.history.get(service_arn, [])
        earlier = [arn for arn in seen if arn != current]
        return earlier[-1] if earlier and seen and seen[-1] == current else ""

    def save(self) -> None:
        if not self._dirty or self.path is None:
            return
        with self._lock:
            merged = self._read()
            merged.update(self.history)
            try:
                # Private like every state file (0600 in 0700): it names the account's services.
                self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                temporary = self.path.with_suffix(f".{os.getpid()}.tmp")
                fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write(json.dumps(merged, indent=1, sort_keys=True))
                os.replace(temporary, self.path)
            except OSError:
                return  # a read-only home must not break monitoring; rollback falls back to asking
            self._dirty = False


def rollback_target(
    api: AwsClients, live: Raw, revisions: RevisionRecord | None, service_ref: str,
) -> tuple[str, str]:
    """(task definition ARN to go back to, where that choice came from), or NotSupported."""
    current = as_str(live.get("taskDefinition"))
    primary, active = primary_and_active(live.get("deployments"))
    in_progress = bool(active) or (primary is not None and as_str(primary.get("rolloutState")) == "IN_PROGRESS")
    target, source = "", ""
    if active and as_str(active[0].get("taskDefinition")) not in ("", current):
        target, source = as_str(active[0].get("taskDefinition")), "the deployment in progress's previous revision"
    if not target and not in_progress:
        target = previous_from_deployments(api, live, current)
        source = "the last successful deployment's source revision" if target else ""
    if not target and revisions is not None:
        target = revisions.previous(as_str(live.get("serviceArn")), current)
        source = "the revision this console saw before" if target else ""
    if not target or target == current:
        family = task_definition_family(current)
        raise NotSupported(
            f"no earlier revision of {family} is known for {service_ref}",
            f"pick a revision of task definition family {family!r} "
            f"(aws ecs list-task-definitions --family-prefix {family}) and deploy it")
    return target, source


def previous_from_deployments(api: AwsClients, live: Raw, current: str) -> str:
    """Source revision of the newest successful deployment that put `current` in place, if the API has it."""
    client = api.history
    try:
        listing = api.call("list_service_deployments", client, cluster=as_str(live.get("clusterArn")),
                          service=as_str(live.get("serviceArn")), status=["SUCCESSFUL"], maxResults=5)
        briefs = dicts(listing.get("serviceDeployments"))
        if not briefs:
            return ""
        newest = max(briefs, key=lambda b: as_time(b.get("createdAt")) or datetime.min.replace(tzinfo=UTC))
        described = api.call("describe_service_deployments", client,
                            serviceDeploymentArns=[as_str(newest.get("serviceDeploymentArn"))])
        deployment = next(iter(dicts(described.get("serviceDeployments"))), {})
        target = as_str(as_dict(deployment.get("targetServiceRevision")).get("arn"))
        sources = [as_str(s.get("arn")) for s in dicts(deployment.get("sourceServiceRevisions"))]
        arns = [a for a in [target, *sources] if a]
        if not sources or not arns:
            return ""
        revisions = api.call("describe_service_revisions", client, serviceRevisionArns=arns)
        by_arn = {as_str(r.get("serviceRevisionArn")): as_str(r.get("taskDefinition"))
                  for r in dicts(revisions.get("serviceRevisions"))}
        if target and by_arn.get(target) not in (None, current):
            return ""  # that deployment put something else in place: the record is stale
        return next((by_arn[a] for a in sources if by_arn.get(a) and by_arn[a] != current), "")
    except (Throttled, CredentialsError, Unreachable):
        raise
    except ProviderError:
        return ""  # the API or the permission is missing (moto answers 500): fall back
