"""Kubernetes provider; the entry point is `pilothouse.providers.kubernetes:KubernetesProvider`.

Modules, by concern: objects (kinds, URLs, raw accessors), mapping (objects -> unified model), rollout
(`kubectl rollout status` and `undo`), errors, client (kubeconfig, ApiClient, requests), watch (the
list+watch reflectors), logs and follow (pod logs), actions (scale, rollback), provider (the wiring).
"""

from pilothouse.providers.kubernetes.provider import KubernetesProvider

__all__ = ["KubernetesProvider"]
