"""The architecture's contracts, checked on every run, each shown able to fail.

- Import layers (import-linter, contracts in pyproject.toml [tool.importlinter]): console above widgets above
  providers; providers and the core services import no Textual; nothing above providers/ imports an SDK; the
  orchestrator providers (modules or packages) do not import each other. Every console module is either UI
  (console.app, console.screens) or listed as a core service, so a new module cannot slip past.
- No private Textual names (modules, imported names, members of Textual objects), except a documented few.
- The `pilothouse` command starts without importing an SDK or Textual (`--help`, `status --demo`).

Each contract has a negative case: a throwaway tree that breaks it, or a scan of a planted source line.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import os
import pkgutil
import subprocess
import sys
import textwrap
import tomllib
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
import textual

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = REPO / "pyproject.toml"
SDKS = ("docker", "kubernetes", "boto3", "botocore", "paramiko")
UI_MODULES = ("pilothouse.console.app", "pilothouse.console.key_display", "pilothouse.console.screens")
LINT = "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports(config_filename=sys.argv[1], " \
       "no_cache=True, no_logo=True))"


def importlinter_config() -> dict[str, object]:
    config = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["tool"]["importlinter"]
    assert isinstance(config, dict)
    return config


def contracts() -> dict[str, dict[str, object]]:
    found = importlinter_config()["contracts"]
    assert isinstance(found, list)
    return {str(contract["id"]): contract for contract in found}


def module_names(contract: dict[str, object], key: str) -> list[str]:
    names = contract.get(key, [])
    assert isinstance(names, list)
    return [str(name) for name in names]


def lint_imports(root: Path, config: Path) -> subprocess.CompletedProcess[str]:
    """import-linter over the `pilothouse` package found first on PYTHONPATH=root."""
    return subprocess.run([sys.executable, "-c", LINT, str(config)], cwd=root, capture_output=True, text=True,
                          env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"}, timeout=120)


# -- import layers -----------------------------------------------------------------------------------------


def test_the_import_contracts_are_kept() -> None:
    result = lint_imports(REPO, PYPROJECT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BROKEN" not in result.stdout
    for contract in contracts().values():
        assert f"{contract['name']} KEPT" in result.stdout


def console_modules() -> Iterator[str]:
    import pilothouse.console

    for module in pkgutil.walk_packages(pilothouse.console.__path__, "pilothouse.console."):
        yield module.name


def test_every_console_module_is_ui_or_a_core_service() -> None:
    """A new console module must be placed: in screens/ (UI), or listed as a core service (no Textual)."""
    core = set(module_names(contracts()["no-textual-below-ui"], "source_modules"))
    unplaced = [name for name in console_modules()
                if name not in core and not name.startswith(UI_MODULES)]
    assert not unplaced, f"list these in [tool.importlinter] no-textual-below-ui, or move them to screens/: {unplaced}"


def test_the_config_knows_textuals_themes() -> None:
    """config.py names Textual's themes so that it need not import Textual: the names must be the installed ones."""
    from textual.theme import BUILTIN_THEMES

    from pilothouse.console.config import theme_names

    assert theme_names() == sorted(BUILTIN_THEMES)


def write_module(root: Path, name: str, source: str = "") -> None:
    """Create module `name` (a.b.c) under root as a module, keeping any package of that name."""
    parts = name.split(".")
    for depth in range(1, len(parts)):
        package = root.joinpath(*parts[:depth])
        package.mkdir(exist_ok=True)
        (package / "__init__.py").touch()
    package_dir = root.joinpath(*parts)
    target = package_dir / "__init__.py" if package_dir.is_dir() else root.joinpath(*parts[:-1], parts[-1] + ".py")
    target.write_text(textwrap.dedent(source), encoding="utf-8")


def clean_tree(root: Path, *, packages: tuple[str, ...] = ()) -> Path:
    """A stand-in `pilothouse` with every module the contracts name, keeping all of them; returns its config.

    Legal imports are planted too: each SDK and Textual must be seen somewhere for a contract to name it, and
    the CLI's one allowed way into the UI (the ignored import) must exist or import-linter reports it unused.
    """
    for name in packages:
        root.joinpath(*name.split(".")).mkdir(parents=True, exist_ok=True)
        write_module(root, name)
    for contract in contracts().values():
        for key in ("source_modules", "modules", "layers"):
            for name in module_names(contract, key):
                write_module(root, name)
    write_module(root, "pilothouse.console.app", "import textual\n")
    write_module(root, "pilothouse.console.cli", "def main() -> None:\n    import pilothouse.console.app\n")
    write_module(root, "pilothouse.providers.swarm", "import docker\nimport paramiko\n")
    write_module(root, "pilothouse.providers.kubernetes", "import kubernetes\n")
    write_module(root, "pilothouse.providers.ecs", "import boto3\nimport botocore\n")
    config = root / "contracts.toml"
    lines = [PYPROJECT.read_text(encoding="utf-8").split("[tool.importlinter]", 1)[1]]
    config.write_text("[tool.importlinter]" + "".join(lines), encoding="utf-8")
    return config


def test_the_stand_in_tree_keeps_every_contract(tmp_path: Path) -> None:
    """The control for the negative cases below: without the planted violation, nothing is broken."""
    result = lint_imports(tmp_path, clean_tree(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr


VIOLATIONS = {
    "layers": ("pilothouse.providers.base", "import pilothouse.widgets\n"),
    "no-textual-below-ui": ("pilothouse.console.timeline", "from textual.widgets import Static\n"),
    "no-textual-below-ui/cli-direct": ("pilothouse.console.cli",
                                       "import textual\ndef main() -> None:\n    import pilothouse.console.app\n"),
    "no-textual-below-ui/indirect": ("pilothouse.providers.refresh",
                                     "def f() -> None:\n    import pilothouse.console.app\n"),
    "no-sdk-above-providers": ("pilothouse.widgets", "import kubernetes.client\n"),
    "no-sdk-above-providers/console": ("pilothouse.console.fleet", "def f() -> None:\n    import boto3\n"),
    "provider-api-sdk-free": ("pilothouse.providers.model", "import docker\n"),
    "orchestrators-independent": ("pilothouse.providers.swarm", "from pilothouse.providers import ecs\n"),
}


@pytest.mark.parametrize("case", sorted(VIOLATIONS))
def test_each_contract_fails_on_a_violation(tmp_path: Path, case: str) -> None:
    config = clean_tree(tmp_path)
    module, source = VIOLATIONS[case]
    write_module(tmp_path, module, source)
    result = lint_imports(tmp_path, config)
    name = contracts()[case.split("/")[0]]["name"]
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{name} BROKEN" in result.stdout, result.stdout


def test_orchestrator_packages_are_independent_too(tmp_path: Path) -> None:
    """Split into packages (providers/kubernetes/ with watch.py...), a module deep inside one still counts."""
    orchestrators = ("pilothouse.providers.kubernetes", "pilothouse.providers.swarm", "pilothouse.providers.ecs")
    config = clean_tree(tmp_path, packages=orchestrators)
    write_module(tmp_path, "pilothouse.providers.kubernetes.watch", "import kubernetes\n")
    write_module(tmp_path, "pilothouse.providers.swarm.mapping", "import docker\nimport paramiko\n")
    write_module(tmp_path, "pilothouse.providers.ecs.client", "import boto3\nimport botocore\n")
    assert lint_imports(tmp_path, config).returncode == 0
    write_module(tmp_path, "pilothouse.providers.ecs.mapping",
                 "from pilothouse.providers.kubernetes.watch import something\n")
    result = lint_imports(tmp_path, config)
    assert result.returncode == 1
    assert f"{contracts()['orchestrators-independent']['name']} BROKEN" in result.stdout


# -- no private Textual names -------------------------------------------------------------------------------

# (file, name) -> why no public API does it. Each use carries the same reason in a comment at the use.
PRIVATE_TEXTUAL_ALLOWED = {
    ("tests/support/drawn.py", "_compositor"): "Textual exports the composed screen only as SVG",
    ("tests/support/drawn.py", "_background_screens"): "the same export: the screens under a dialog",
    ("tests/support/toasts.py", "_notifications"): "no public read of the toasts shown now",
    ("widgets/diff_table.py", "_data"): "update_cell refreshes once per cell: 8x the cost under an event storm",
    ("tests/benchmarks/storm_child.py", "_batch_count"): "a frame is timed only once Textual writes it whole",
    ("tests/benchmarks/storm_child.py", "_driver"): "keys enter where the terminal driver's input thread puts them",
    ("tests/benchmarks/storm_child.py", "_message_queue"): "queue lengths are what the storm benchmark bounds",
    ("tests/benchmarks/storm_child.py", "_exit"): "os._exit, not Textual's: the name only collides",
    ("tests/ui/test_diff_table.py", "_cell_render_cache"): "which rows DiffTable leaves to be rendered again",
    ("widgets/textual_cycles.py", "_cache"): "LRUCache's ring of links: unlinked on clear, not left to the GC",
    **{("widgets/diff_table.py", name): "one changed cell made DataTable render every visible cell again"
       for name in ("_cell_render_cache", "_row_render_cache", "_line_cache", "_row_renderable_cache",
                    "_ordered_row_cache", "_offset_cache", "_row_locations")},
}
# Our Textual subclasses' writes to their bases' private members, each with its reason at the use.
SUBCLASS_PRIVATE_ALLOWED = {
    ("pilothouse.widgets.diff_table.DiffTable", "_data"): "cells written without update_cell's refresh per cell",
    ("pilothouse.widgets.diff_table.DiffTable", "_update_count"): "DataTable's row render cache is keyed by it",
    **{("pilothouse.widgets.diff_table.DiffTable", name): "only the changed and moved rows' renders are dropped"
       for name in ("_cell_render_cache", "_row_render_cache", "_line_cache", "_row_renderable_cache",
                    "_ordered_row_cache", "_offset_cache", "_row_locations")},
}
SCANNED = ("console", "widgets", "providers", "pilothouse", "tests", "screenshots")


def is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


@cache
def textual_private_names() -> frozenset[str]:
    """Every private member name Textual's source defines or uses on self/cls."""
    names: set[str] = set()
    for path in Path(textual.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                    and node.value.id in ("self", "cls") and is_private(node.attr):
                names.add(node.attr)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and is_private(node.name):
                names.add(node.name)
    return frozenset(names)


def own_private_names(sources: dict[str, str]) -> set[str]:
    """Private members our own code defines: an `other._x` on those is ours, not Textual's."""
    names: set[str] = set()
    for source in sources.values():
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store) and is_private(node.attr):
                names.add(node.attr)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and is_private(node.name):
                names.add(node.name)
    return names


def private_textual_uses(path: str, source: str, ours: set[str]) -> Iterator[tuple[str, int, str]]:
    """(path, line, name) for each private Textual module, imported name, or member of another object.

    Members are judged everywhere but in providers/ (which imports no Textual: a contract above; its private
    names are the SDKs'), and only names Textual uses privately that our code does not define itself. A test
    need not import Textual to reach into it (`app._notifications`).
    """
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "textual" and any(is_private(p) for p in alias.name.split(".")):
                    yield path, node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "textual":
            for part in (node.module or "").split("."):
                if is_private(part):
                    yield path, node.lineno, part
            for alias in node.names:
                if is_private(alias.name):
                    yield path, node.lineno, alias.name
    if path.startswith(("providers/", "pilothouse/providers/")):
        return
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in textual_private_names() and node.attr not in ours:
            yield path, node.lineno, node.attr


def scanned_sources() -> dict[str, str]:
    return {str(path.relative_to(REPO)): path.read_text(encoding="utf-8")
            for folder in SCANNED for path in sorted((REPO / folder).rglob("*.py"))}


def subclass_collisions() -> Iterator[tuple[str, str]]:
    """(class, name) where one of our Textual subclasses sets or calls a private member of its Textual bases:
    `self._capture_stdout = ...` in an App replaces Textual's own, which the scan above cannot tell from ours."""
    import pilothouse

    for found in pkgutil.walk_packages(pilothouse.__path__, "pilothouse."):
        module = importlib.import_module(found.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == module.__name__:
                for name in collisions(cls, inspect.getsource(cls)):
                    yield f"{cls.__module__}.{cls.__qualname__}", name


def collisions(cls: type, source: str) -> set[str]:
    """Private members of cls's Textual bases that its source uses on self."""
    bases = [base for base in cls.__mro__ if base.__module__.split(".")[0] == "textual"]
    theirs: set[str] = set().union(*(textual_members(base) for base in bases))
    return {node.attr for node in ast.walk(ast.parse(textwrap.dedent(source)))
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self"
            and node.attr in theirs}


@cache
def textual_members(cls: type) -> frozenset[str]:
    """Private members one Textual class defines (methods, class attributes, self._x it sets)."""
    names = {name for name in vars(cls) if is_private(name)}
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return frozenset(names)
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self" \
                and is_private(node.attr):
            names.add(node.attr)
    return frozenset(names)


def test_no_private_textual_names() -> None:
    sources = scanned_sources()
    ours = own_private_names(sources)
    found = {use for path, source in sources.items() for use in private_textual_uses(path, source, ours)}
    allowed = {use for use in found if (use[0], use[2]) in PRIVATE_TEXTUAL_ALLOWED}
    assert sorted(found - allowed) == [], "use Textual's public API, or allow it here with the reason at the use"
    stale = set(PRIVATE_TEXTUAL_ALLOWED) - {(path, name) for path, _, name in allowed}
    assert not stale, f"allowed but no longer used: {stale}"
    for path, name in PRIVATE_TEXTUAL_ALLOWED:
        assert "PRIVATE_TEXTUAL_ALLOWED" in sources[path], f"{path} must say at the use why {name} is needed"


def test_no_subclass_touches_its_textual_bases_private_members() -> None:
    found = set(subclass_collisions())
    assert sorted(found - set(SUBCLASS_PRIVATE_ALLOWED)) == []
    assert not set(SUBCLASS_PRIVATE_ALLOWED) - found, "allowed but no longer used"


PLANTED = {
    "from textual.widgets._footer import FooterKey\n": "_footer",
    "from textual.app import _PrintCapture\n": "_PrintCapture",
    "import textual.app\ndef f(screen: object) -> None:\n    screen._modal_binding_chain\n": "_modal_binding_chain",
    "import textual\ndef f(app: object) -> None:\n    app._notifications.clear()\n": "_notifications",
    "def f(app: object) -> None:\n    app.screen._compositor\n": "_compositor",
}


@pytest.mark.parametrize("source", sorted(PLANTED))
def test_the_private_name_scan_finds_a_planted_use(source: str) -> None:
    assert [name for _, _, name in private_textual_uses("planted.py", source, set())] == [PLANTED[source]]


def test_the_private_name_scan_leaves_our_own_members_alone() -> None:
    source = "import textual\nclass View:\n    def __init__(self) -> None:\n        self._lines = []\n" \
             "def f(view: View) -> None:\n    view._lines.clear()\n"
    assert "_lines" in textual_private_names()
    assert list(private_textual_uses("ours.py", source, own_private_names({"ours.py": source}))) == []


def test_the_subclass_scan_sees_a_replaced_textual_member() -> None:
    from textual.app import App

    source = "class Leaky(App):\n    def on_mount(self):\n        self._capture_stdout = None\n"
    assert collisions(type("Leaky", (App,), {}), source) == {"_capture_stdout"}
    assert collisions(type("Plain", (), {}), source) == set()


# -- the command starts without SDKs -------------------------------------------------------------------------


def imported_packages(importtime: str) -> set[str]:
    """Top-level packages in a `-X importtime` trace (stderr: one `import time: ... | name` line each)."""
    return {line.split("|")[-1].strip().split(".")[0] for line in importtime.splitlines()
            if line.startswith("import time:") and "|" in line}


def imported_at_start(*args: str) -> set[str]:
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "pilothouse", *args], cwd=REPO,
                            capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 0, result.stderr[-2000:]
    return imported_packages(result.stderr)


@pytest.mark.parametrize("args", [("--help",), ("status", "--demo")])
def test_the_command_starts_without_sdks_or_textual(args: tuple[str, ...]) -> None:
    loaded = imported_at_start(*args)
    assert "pilothouse" in loaded, "the import trace is empty: the check would prove nothing"
    assert loaded.isdisjoint((*SDKS, "textual")), sorted(loaded & {*SDKS, "textual"})


def test_the_start_check_sees_an_sdk_import() -> None:
    result = subprocess.run([sys.executable, "-X", "importtime", "-c", "import docker.errors"], capture_output=True,
                            text=True, timeout=60)
    assert "docker" in imported_packages(result.stderr)
