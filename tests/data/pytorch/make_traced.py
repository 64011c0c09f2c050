"""Write the traced cases of this folder: a program traced by `aotio.trace`
and analysed by PyTorch 2.15 itself (`aotio.compare.pytorch_expect`, the
recipe of the shared conformance data), for rules whose dump is easier to
trace than to write by hand.

usage: python make_traced.py   (with torch 2.15 and the aotio package installed)
"""

import json
import pathlib

import torch
from aotio.compare import pytorch_expect
from aotio.tracing import trace_dict

HERE = pathlib.Path(__file__).parent


def symint_beside_synthetic_base():
    """two overlapping views of one buffer, one mutated, and an int argument:
    the synthetic base goes first, the int stays among the inner arguments"""

    def f(a, b, n):
        a.mul_(2)
        return a + n, b * n

    base = torch.zeros(10)
    return f, (base[0:6], base[2:8], 3)


CASES = {
    "synthetic_base_int_arg": (symint_beside_synthetic_base, {"dynamic": False}),
    "synthetic_base_symint_arg": (symint_beside_synthetic_base, {"dynamic": True}),
}


def main():
    for name, (build, options) in CASES.items():
        fn, args = build()
        dump = trace_dict(
            fn, args, name=name, description=" ".join(build.__doc__.split()), **options
        )
        fn, args = build()
        dump["expect"] = pytorch_expect(fn, args, {}, **options)
        (HERE / f"{name}.json").write_text(json.dumps(dump, indent=1) + "\n")


if __name__ == "__main__":
    main()
