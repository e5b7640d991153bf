"""Docker Swarm provider: one swarm manager's API, mapped into the unified model.

One module per concern: client (which engine, which transport), errors (engine errors -> typed ones),
raw and spec (reading the API's dicts), mapping and rollout (dicts -> the unified model, pure), images (an
image's own HEALTHCHECK), events (timeline and live watch), logs, actions (scale, rollback), provider (the
SwarmProvider that wires them). The docker SDK is imported inside functions only.
"""

from pilothouse.providers.swarm.provider import SwarmProvider

__all__ = ["SwarmProvider"]
