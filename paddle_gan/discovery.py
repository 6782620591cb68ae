"""Registries that fill themselves: importing every module of a package runs the `register_*`
call each module makes at import, so no list of modules is kept by hand."""
from __future__ import annotations

import importlib
import pkgutil


def import_modules(package: str) -> None:
    """Import every module of `package` (a dotted name); one already imported is not run again.
    An error while importing any of them (a ModuleNotFoundError too) propagates."""
    for info in pkgutil.iter_modules(importlib.import_module(package).__path__):
        importlib.import_module(f"{package}.{info.name}")
