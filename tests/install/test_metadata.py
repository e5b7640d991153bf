"""Package metadata a package index shows: SPDX license with its file, URLs, classifiers, py.typed, and README
images by absolute URL (relative paths are broken on an index's project page)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT = PYPROJECT["project"]


def test_license_is_an_spdx_expression_with_its_full_text() -> None:
    assert PROJECT["license"] == "Apache-2.0"
    assert PROJECT["license-files"] == ["LICENSE"]
    text = (REPO / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in text
    assert "END OF TERMS AND CONDITIONS" in text and "APPENDIX: How to apply the Apache License" in text
    assert not any(c.startswith("License ::") for c in PROJECT["classifiers"])  # superseded by the SPDX string
    # The SPDX string needs setuptools 77 (PEP 639); an older backend rejects it.
    assert any(re.fullmatch(r"setuptools>=(\d+)", req) and int(req.split(">=")[1]) >= 77
               for req in PYPROJECT["build-system"]["requires"])


def test_urls_and_classifiers() -> None:
    urls = PROJECT["urls"]
    home = urls["Homepage"]
    assert home.startswith("https://") and all(url.startswith(home) for url in urls.values())
    assert {"Source", "Issues"} <= set(urls)
    assert "Typing :: Typed" in PROJECT["classifiers"]
    versions = [c for c in PROJECT["classifiers"] if c.startswith("Programming Language :: Python :: 3.")]
    assert "Programming Language :: Python :: 3.11" in versions  # the floor of requires-python


def test_py_typed_is_shipped() -> None:
    assert (REPO / "pilothouse" / "py.typed").is_file()
    assert "py.typed" in PYPROJECT["tool"]["setuptools"]["package-data"]["pilothouse"]


def test_readme_images_are_absolute_and_point_at_files_of_this_repository() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", readme)
    assert images
    prefix = f"{PROJECT['urls']['Homepage']}/raw/main/"
    for image in images:
        assert image.startswith(prefix), image
        assert (REPO / image.removeprefix(prefix)).is_file(), image
