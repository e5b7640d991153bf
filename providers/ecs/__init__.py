"""AWS ECS (EC2 and Fargate): the provider and its rooms (see provider.py for how they fit together).

boto3 is imported only when a provider connects, so importing this package stays cheap.
"""

from pilothouse.providers.ecs.provider import EcsProvider

__all__ = ["EcsProvider"]
