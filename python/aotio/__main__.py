"""``python -m aotio compare FILE.py:NAME``: check aotio against live PyTorch."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from typing import Any

DESCRIPTION = """\
Run PyTorch's own AOTAutograd analysis and aotio's on one program and print
the differences on the fields the conformance README marks exact.

NAME is a function in FILE.py that takes no arguments and returns
  (fn_or_module, args)
  (fn_or_module, args, kwargs)
  (fn_or_module, args, kwargs, options)
where options is a dict of trace options (dynamic, keep_input_mutations,
export) and optionally grad_enabled, the grad mode the program is called in
(default: on). Command-line options override the ones NAME returns.

Exit status: 0 when the two analyses agree, 1 when they differ, 2 when the
program cannot be loaded or traced.
"""


def _load(spec: str) -> Any:
    path, sep, name = spec.rpartition(":")
    if not sep or not path or not name:
        raise SystemExit(f"expected FILE.py:NAME, got {spec!r}")
    file = Path(path)
    if not file.is_file():
        raise SystemExit(f"{path}: no such file")
    module_spec = importlib.util.spec_from_file_location(f"_aotio_compare_{file.stem}", file)
    if module_spec is None or module_spec.loader is None:
        raise SystemExit(f"{path}: cannot be imported")
    module = importlib.util.module_from_spec(module_spec)
    sys.path.insert(0, str(file.resolve().parent))
    try:
        module_spec.loader.exec_module(module)
    finally:
        sys.path.pop(0)
    factory = getattr(module, name, None)
    if not callable(factory):
        raise SystemExit(f"{path}: no function named {name!r}")
    return factory


def _unpack(built: Any, name: str) -> tuple[Any, Any, dict, dict]:
    if not isinstance(built, (tuple, list)) or not 2 <= len(built) <= 4:
        raise SystemExit(
            f"{name}() must return (fn_or_module, args[, kwargs[, options]]), "
            f"got {type(built).__name__}"
        )
    fn, args = built[0], built[1]
    kwargs = dict(built[2] or {}) if len(built) > 2 else {}
    options = dict(built[3] or {}) if len(built) > 3 else {}
    return fn, args, kwargs, options


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aotio")
    sub = parser.add_subparsers(dest="command", required=True)
    cmp = sub.add_parser(
        "compare",
        help="diff aotio's analysis of a program against PyTorch's",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cmp.add_argument("target", metavar="FILE.py:NAME")
    cmp.add_argument("--dynamic", action="store_true", default=None, help="symbolic sizes")
    cmp.add_argument(
        "--keep-input-mutations",
        action="store_true",
        default=None,
        help="AOTAutograd's keep_inference_input_mutations",
    )
    cmp.add_argument(
        "--export",
        default=None,
        help="comma-separated export flavours (inference, joint); empty for none",
    )
    cmp.add_argument("--no-grad", action="store_true", help="call the program under no_grad")
    cmp.add_argument(
        "--keys",
        default=None,
        help="comma-separated top-level fields to compare (needs_autograd, fw_metadata, "
        "dedupe, synthetic_base, overlapping_inputs, graph_signature); default all",
    )
    ns = parser.parse_args(argv)

    import torch

    from aotio.compare import compare
    from aotio.tracing import TraceError

    factory = _load(ns.target)
    fn, args, kwargs, options = _unpack(factory(), ns.target)
    if ns.dynamic is not None:
        options["dynamic"] = True
    if ns.keep_input_mutations is not None:
        options["keep_input_mutations"] = True
    if ns.export is not None:
        options["export"] = tuple(f for f in ns.export.split(",") if f)
    grad_enabled = bool(options.pop("grad_enabled", True)) and not ns.no_grad
    try:
        with torch.set_grad_enabled(grad_enabled):
            keys = None if ns.keys is None else [k for k in ns.keys.split(",") if k]
            diff = compare(fn, args, kwargs, keys=keys, **options)
    except TraceError as exc:
        print(f"{ns.target}: {exc}", file=sys.stderr)
        return 2
    print(f"{ns.target}: {diff}")
    return 1 if diff else 0


if __name__ == "__main__":
    sys.exit(main())
