"""The parts of the `kubernetes` SDK this provider uses, without importing the rest of it.

`import kubernetes` runs the package's __init__, which imports every API class and all ~700 model classes:
about 0.5 s of CPU and 50 MB of memory, a third of the console's budget at 10k pods, for code this
provider never calls (it reads raw JSON, never the SDK's models). What it does use is small: the kubeconfig
loader (exec credential plugins, TLS, token refresh), Configuration, ApiClient with its urllib3 transport,
the exceptions and the watch line reader.

`load()` registers the packages `kubernetes`, `kubernetes.client` and `kubernetes.client.models` without
running their __init__: a submodule is imported when it is asked for, and the first time anything else
is asked of such a package (`kubernetes.client.CoreV1Api`, a model class) its real __init__ runs into the
same module object, so any other code in the process still sees the whole SDK, only later. When the
packages are already imported (or cannot be found) it does nothing.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
from types import ModuleType
from typing import Any

_PACKAGES = ("kubernetes", "kubernetes.client", "kubernetes.client.models")
# What the kubeconfig loader imports from `kubernetes.client` itself; served from their submodules.
_FROM_SUBMODULES = {"ApiClient": "kubernetes.client.api_client", "Configuration": "kubernetes.client.configuration"}
_lock = threading.RLock()


def _lazy_getattr(module: ModuleType, spec: Any) -> Any:
    state = {"loaded": False}

    def __getattr__(name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        with _lock:
            source = _FROM_SUBMODULES.get(name) if module.__name__ == "kubernetes.client" else None
            if source is not None:
                return getattr(importlib.import_module(source), name)
            if not state["loaded"] and importlib.util.find_spec(f"{module.__name__}.{name}") is not None:
                return importlib.import_module(f"{module.__name__}.{name}")
            if not state["loaded"]:
                state["loaded"] = True  # before running it: the __init__ itself reads missing names
                spec.loader.exec_module(module)
            if name in module.__dict__:
                return module.__dict__[name]
        raise AttributeError(f"module {module.__name__!r} has no attribute {name!r}")

    return __getattr__


def load() -> None:
    """Make `kubernetes` importable piecemeal (see the module's docstring); idempotent."""
    with _lock:
        if "kubernetes" in sys.modules:
            return
        parent: ModuleType | None = None
        for name in _PACKAGES:
            spec = importlib.util.find_spec(name)
            if spec is None or spec.loader is None or spec.submodule_search_locations is None:
                return  # not installed (the connection reports it), or not a package as expected
            module = importlib.util.module_from_spec(spec)
            module.__getattr__ = _lazy_getattr(module, spec)  # type: ignore[method-assign]
            sys.modules[name] = module
            if parent is not None:
                setattr(parent, name.rpartition(".")[2], module)
            parent = module
