"""Callbacks, one module per page; each exposes ``register(app)`` (``_common`` holds
what they share: the facility gate and the live tick).

``register_all`` finds every module in this package, so adding a page's callbacks
needs no edit here. Callbacks are attached with ``app.callback`` (never the global
``dash.callback``) so that every app built in a process gets them.
"""

from __future__ import annotations

import importlib
import pkgutil

from dash import Dash


def register_all(app: Dash) -> None:
    for module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if module.name.startswith("_"):
            continue
        importlib.import_module(f"{__name__}.{module.name}").register(app)
