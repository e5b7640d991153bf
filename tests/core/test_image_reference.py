"""Image references normalised as the Docker/OCI reference grammar does: the doctor's image-drift rule groups
by it, so `nginx` and `docker.io/library/nginx:latest` are one image and `foo/Bar` is no reference at all."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pilothouse.providers.image_reference import normalise_reference, reference_key

DIGEST = "sha256:" + "0123456789abcdef" * 4


@pytest.mark.parametrize(("written", "normal"), [
    ("nginx", "docker.io/library/nginx:latest"),
    ("nginx:latest", "docker.io/library/nginx:latest"),
    ("docker.io/library/nginx", "docker.io/library/nginx:latest"),
    ("docker.io/nginx", "docker.io/library/nginx:latest"),
    ("index.docker.io/library/nginx:latest", "docker.io/library/nginx:latest"),
    ("bitnami/redis:7.2", "docker.io/bitnami/redis:7.2"),
    ("ghcr.io/org/team/app:1.0", "ghcr.io/org/team/app:1.0"),
    # A colon before the last slash is a registry port, after it a tag.
    ("localhost:5000/app", "localhost:5000/app:latest"),
    ("registry.example.com:5000/team/app:2.1", "registry.example.com:5000/team/app:2.1"),
    ("localhost/app:1", "localhost/app:1"),
    ("[::1]:5000/app:1", "[::1]:5000/app:1"),
    # A digest-only reference is not :latest; a tag and a digest are both kept.
    (f"nginx@{DIGEST}", f"docker.io/library/nginx@{DIGEST}"),
    (f"nginx:1.25@{DIGEST}", f"docker.io/library/nginx:1.25@{DIGEST}"),
    ("my_app.v2__x-y:Tag_1.0-rc", "docker.io/library/my_app.v2__x-y:Tag_1.0-rc"),
    # An uppercase first component is a registry host, as Docker reads it.
    ("Registry/app", "Registry/app:latest"),
])
def test_references_normalise_as_docker_reads_them(written: str, normal: str) -> None:
    assert normalise_reference(written) == normal
    assert reference_key(written) == normal


@pytest.mark.parametrize(("written", "says"), [
    ("foo/Bar", "repository must be lowercase"),
    ("docker.io/library/NGINX", "repository must be lowercase"),
    ("app@sha256:short", "invalid digest"),
    ("app:bad/tag", "invalid registry"),  # a colon before a slash is a port
    ("app:-x", "invalid tag"),
    ("app:v\u00e9", "invalid tag"),  # ASCII only
    ("app//x", "invalid repository"),
    ("", "invalid repository"),
    ("-bad.host/app", "invalid registry"),
    ("a/" * 130 + "b", "longer than 255"),
])
def test_what_is_not_a_reference_says_why(written: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        normalise_reference(written)
    assert reference_key(written) == written, "grouped as written, with itself only"


# Dots only in the last component: a first component with a dot is a registry host, as Docker reads it.
_COMPONENT = st.from_regex(r"[a-z0-9]{1,6}(?:(?:_|__|-+)[a-z0-9]{1,4}){0,2}", fullmatch=True)
_LAST = st.from_regex(r"[a-z0-9]{1,6}(?:(?:[._]|__|-+)[a-z0-9]{1,4}){0,2}", fullmatch=True)
_REGISTRY = st.one_of(st.just(""), st.just("docker.io/"), st.just("index.docker.io/"),
                      st.from_regex(r"[a-z][a-z0-9]{0,5}\.[a-z]{2,4}(?::[0-9]{2,5})?/", fullmatch=True),
                      st.just("localhost:5000/"))
_TAG = st.one_of(st.just(""), st.from_regex(r":[A-Za-z0-9_][A-Za-z0-9_.-]{0,10}", fullmatch=True))
_DIGEST = st.one_of(st.just(""), st.from_regex(r"@sha256:[0-9a-f]{64}", fullmatch=True))


@st.composite
def references(draw: st.DrawFn) -> str:
    path = "/".join([*draw(st.lists(_COMPONENT, max_size=2)), draw(_LAST)])
    return draw(_REGISTRY) + path + draw(_TAG) + draw(_DIGEST)


@given(references())
def test_normal_form_is_a_fixed_point_and_fully_qualified(reference: str) -> None:
    normal = normalise_reference(reference)
    assert normalise_reference(normal) == normal
    name = normal.split("@", 1)[0]
    assert "/" in name and not normal.startswith("index.docker.io/")
    assert ":" in name.rsplit("/", 1)[-1] or "@" in normal, "a tag, or a digest, always"
    if normal.startswith("docker.io/"):
        assert name.count("/") >= 2, "an official image sits under library/"


@given(references())
def test_what_docker_adds_by_default_changes_nothing(reference: str) -> None:
    registry = reference.split("/", 1)[0] if "." in reference.split("/", 1)[0] or ":" in reference.split("/", 1)[0] \
        else ""
    if registry or "@" in reference:
        return
    name, _, tag = reference.partition(":")
    spelled = f"docker.io/{name if '/' in name else 'library/' + name}:{tag or 'latest'}"
    assert normalise_reference(reference) == normalise_reference(spelled) == normalise_reference(
        "index." + spelled)


@given(references(), st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=3))
def test_uppercase_in_a_repository_is_refused(reference: str, upper: str) -> None:
    name = reference.split("@", 1)[0]
    slash = name.rfind("/")
    colon = name.rfind(":")
    path_end = colon if colon > slash else len(name)
    with pytest.raises(ValueError, match="lowercase"):
        normalise_reference(reference[:path_end] + upper + reference[path_end:])
