"""Benchmark targets: every module here with a `run(ctx: bench.context.Context) -> None` is one.

`python -m bench` imports them in name order and calls `run(ctx)`; a target calls `ctx.report()`
once per figure it checks. See bench/README.md.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from types import ModuleType


def discover() -> dict[str, Callable[..., None]]:
    """name -> run function of every target module, in name order."""
    found: dict[str, Callable[..., None]] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda item: item.name):
        module: ModuleType = importlib.import_module(f"{__name__}.{info.name}")
        run = getattr(module, "run", None)
        if callable(run):
            found[info.name] = run
    return found
