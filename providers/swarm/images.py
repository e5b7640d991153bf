"""Whether an image defines its own HEALTHCHECK, which the manager does not report.

Only for services whose spec says nothing about health: the manager's own copy of the image is inspected
(it may not have it: then we cannot tell), once per image and TTL, at most IMAGE_INSPECTS_PER_SNAPSHOT new
images per refresh, so a steady refresh sends no extra call and a first look at a fleet of many images
stays bounded.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from pilothouse.providers.errors import InvalidInput, NotFound
from pilothouse.providers.swarm.client import ApiCall
from pilothouse.providers.swarm.raw import as_dict, as_str
from pilothouse.providers.swarm.spec import container_spec, healthcheck_of, image_healthcheck

if TYPE_CHECKING:
    from docker.api.client import APIClient

IMAGE_CHECK_TTL_S = 300.0
IMAGE_INSPECTS_PER_SNAPSHOT = 16
MAX_IMAGE_CHECKS = 1000


def _inspect_image(client: APIClient, name: str) -> Any:
    return client.inspect_image(name)


class ImageHealthchecks:
    """spec image -> (when inspected, does the image define a HEALTHCHECK; None: cannot tell)."""

    def __init__(self) -> None:
        self._checks: dict[str, tuple[float, bool | None]] = {}

    def for_services(self, call: ApiCall, services: Iterable[Any]) -> dict[str, bool | None]:
        """For each image whose service spec says nothing about health: does the image define one?"""
        now = time.monotonic()
        unknown: list[str] = []
        for service in services:
            container = container_spec(as_dict(as_dict(service).get("Spec")))
            image = as_str(container.get("Image"))
            if not image or healthcheck_of(container) is not None or image in unknown:
                continue
            cached = self._checks.get(image)
            if cached is None or now - cached[0] > IMAGE_CHECK_TTL_S:
                unknown.append(image)
        for image in unknown[:IMAGE_INSPECTS_PER_SNAPSHOT]:
            self._checks[image] = (now, self._inspect(call, image))
        if len(self._checks) > MAX_IMAGE_CHECKS:
            # Images no service uses any more age out.
            for image, (when, _check) in list(self._checks.items()):
                if now - when > IMAGE_CHECK_TTL_S:
                    del self._checks[image]
        return {image: check for image, (_when, check) in self._checks.items()}

    @staticmethod
    def _inspect(call: ApiCall, image: str) -> bool | None:
        # `name:tag@sha256:...` may be stored locally under its tag only (an imported or locally built image).
        candidates = [image] + ([image.split("@", 1)[0]] if "@" in image else [])
        for candidate in candidates:
            try:
                inspected = call(functools.partial(_inspect_image, name=candidate))
                return image_healthcheck(as_dict(inspected))
            except NotFound:
                continue
            except InvalidInput:
                return None
        return None
