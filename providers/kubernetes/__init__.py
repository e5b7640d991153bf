"""Kubernetes provider; the entry point is `pilothouse.providers.kubernetes:KubernetesProvider`.

Modules, by concern: objects (kinds, URLs, raw accessors), mapping (objects -> unified model), rollout
(`kubectl rollout status` and `undo`), errors, client (kubeconfig, ApiClient, requests), watch (the
list+watch reflectors), projection (what the caches keep), sdk (the SDK imported piecemeal), logs and follow
(pod logs), actions (scale, rollback), provider (the wiring).
"""

from pilothouse.providers.kubernetes import sdk
from pilothouse.providers.kubernetes.provider import KubernetesProvider

# Before anything imports the SDK: its parts are then imported as they are used (sdk.py says why).
sdk.load()

__all__ = ["KubernetesProvider"]
