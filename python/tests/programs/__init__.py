"""Programs aotio.compare checks against live PyTorch (issue 13, item 6).

Every program is a zero-argument function returning ``(fn_or_module, args)``,
``(fn_or_module, args, kwargs)`` or ``(fn_or_module, args, kwargs, options)``,
the convention ``python -m aotio compare FILE.py:NAME`` reads. ``options``
are trace options (``dynamic``, ``keep_input_mutations``, ``export``) plus
``grad_enabled``, the grad mode the program is called in (default on).

``export`` says which ``aot_export_module`` flavours to compare; each program
asks for the ones the shared conformance data records for programs of its
kind (none when export refuses, e.g. a mutated duplicated input).
"""

from __future__ import annotations

import inspect

from programs import (
    aliasing,
    custom_function,
    custom_ops,
    dedupe_and_bases,
    dynamic,
    grad_and_export,
    modules,
    mutation,
    refusals,
)

MODULES = (
    aliasing,
    mutation,
    modules,
    dynamic,
    dedupe_and_bases,
    custom_function,
    custom_ops,
    grad_and_export,
    refusals,
)


def all_programs():
    """``{"module.name": program}``: every public function of the modules above."""
    out = {}
    for mod in MODULES:
        short = mod.__name__.rsplit(".", 1)[-1]
        for name, fn in vars(mod).items():
            if inspect.isfunction(fn) and fn.__module__ == mod.__name__ and name[0] != "_":
                out[f"{short}.{name}"] = fn
    return out
