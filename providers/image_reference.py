"""Image references normalised as the Docker/OCI reference grammar does (distribution/reference), so that
`nginx`, `docker.io/library/nginx` and `index.docker.io/library/nginx:latest` are known as one image.

Pure: no I/O, no registry asked. Used for grouping only; what a user reads is the reference as written.
"""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = ["DEFAULT_REGISTRY", "normalise_reference", "reference_key"]

DEFAULT_REGISTRY = "docker.io"
_LEGACY_REGISTRY = "index.docker.io"
_OFFICIAL = "library/"
_DEFAULT_TAG = "latest"
_MAX_NAME = 255

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = re.compile(rf"(?:{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?")
_PATH = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")  # ASCII: Go's \w
_DIGEST = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}")


def normalise_reference(reference: str) -> str:
    """The fully qualified form: registry (docker.io by default), `library/` for an official image, tag
    `latest` when neither a tag nor a digest is given; a digest is kept. ValueError names what is wrong."""
    text = reference.strip()
    name, at, digest = text.partition("@")
    if at and not _DIGEST.fullmatch(digest):
        raise ValueError(f"invalid digest in {reference!r}")
    tag = ""
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:  # a colon after the last slash is a tag; before it, a registry port
        name, tag = name[:colon], name[colon + 1:]
        if not _TAG.fullmatch(tag):
            raise ValueError(f"invalid tag in {reference!r}")
    domain, path = _split_domain(name)
    if not _DOMAIN.fullmatch(domain):
        raise ValueError(f"invalid registry in {reference!r}")
    if not _PATH.fullmatch(path):
        what = "repository must be lowercase" if _PATH.fullmatch(path.lower()) else "invalid repository"
        raise ValueError(f"{what} in {reference!r}")
    if domain == DEFAULT_REGISTRY and "/" not in path:
        path = _OFFICIAL + path
    if len(domain) + 1 + len(path) > _MAX_NAME:
        raise ValueError(f"repository name longer than {_MAX_NAME} characters in {reference!r}")
    if not tag and not digest:
        tag = _DEFAULT_TAG
    return f"{domain}/{path}" + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")


def _split_domain(name: str) -> tuple[str, str]:
    """As Docker does: the first component is a registry when it has a dot, a port or an uppercase letter, or is
    `localhost`; else the image is on Docker Hub."""
    first, slash, rest = name.partition("/")
    if slash and (any(c in first for c in ".:") or first == "localhost" or first != first.lower()):
        return (DEFAULT_REGISTRY if first == _LEGACY_REGISTRY else first), rest
    return DEFAULT_REGISTRY, name


@lru_cache(maxsize=4096)
def reference_key(reference: str) -> str:
    """The key one image groups under: the normalised reference, or the text as written when it is not a
    valid reference (still grouped with itself, never with another). Cached: the doctor asks per task."""
    try:
        return normalise_reference(reference)
    except ValueError:
        return reference
