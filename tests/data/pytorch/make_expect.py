"""Regenerate the `expect` blocks of the hand-written dumps in this folder.

Each case is a small program run through real PyTorch (2.15): metadata
collection (`aot_function` with no-op compilers, the first stage it runs),
and `aot_export_module` for each flavour the dump's `config.export` asks
for, the way the shared conformance data does it (a plain function wrapped
in a module, a return that is not a tuple or list wrapped in a 1-tuple;
inference under `no_grad`, joint under `enable_grad` on the sum of the
grad-requiring floating outputs). Only what PyTorch computed is written:
`error` (stage and type) when metadata collection refuses, and
`graph_signature` per flavour.

usage: python make_expect.py   (with torch 2.15 installed)
"""

import json
import pathlib
import traceback

import torch
from functorch.compile import nop
from torch._functorch.aot_autograd import aot_export_module, aot_function, aot_module
from torch.utils._pytree import treespec_dumps

HERE = pathlib.Path(__file__).parent


def leaf(*shape, rg=False):
    return torch.randn(*shape, requires_grad=rg)


class Fn(torch.nn.Module):
    """A plain function as a parameter-free module with tuple outputs."""

    def __init__(self, f, joint):
        super().__init__()
        self.f = f
        self.joint = joint

    def forward(self, *args):
        out = self.f(*args)
        if self.joint:
            outs = out if isinstance(out, (tuple, list)) else (out,)
            grads = [
                o
                for o in outs
                if isinstance(o, torch.Tensor)
                and o.requires_grad
                and o.is_floating_point()
            ]
            loss = sum(o.sum() for o in grads) if grads else torch.zeros(())
            return (loss,)
        return out if isinstance(out, (tuple, list)) else (out,)


class WithParam(Fn):
    """`f(w, *args)` with `w` a parameter of the module."""

    def __init__(self, f, joint):
        super().__init__(f, joint)
        self.w = torch.nn.Parameter(torch.randn(4))

    def forward(self, *args):
        return super().forward(self.w, *args)


def error(e, stage):
    return {
        "stage": stage,
        "type": type(e).__name__,
        "message": str(e).strip().splitlines()[0],
    }


def collect(f, args, grad_enabled):
    if isinstance(f, torch.nn.Module):
        compiled = aot_module(f, fw_compiler=nop, bw_compiler=nop)
    else:
        compiled = aot_function(f, fw_compiler=nop, bw_compiler=nop)
    try:
        with torch.set_grad_enabled(grad_enabled):
            compiled(*args)
    except Exception as e:  # PyTorch's refusal is the result
        # Only a refusal raised while metadata collection runs the function.
        frames = traceback.extract_tb(e.__traceback__)
        if not any("collect_metadata_analysis" in fr.filename for fr in frames):
            raise
        return error(e, "collect_metadata")
    return None


def signature(gm, sig):
    placeholders = [n.name for n in gm.graph.nodes if n.op == "placeholder"]
    output = next(n for n in gm.graph.nodes if n.op == "output")
    outputs = [a.name if isinstance(a, torch.fx.Node) else None for a in output.args[0]]
    backward = sig.backward_signature
    return {
        "parameters": list(sig.parameters),
        "buffers": list(sig.buffers),
        "user_inputs": list(sig.user_inputs),
        "user_outputs": list(sig.user_outputs),
        "inputs_to_parameters": dict(sig.inputs_to_parameters),
        "inputs_to_buffers": dict(sig.inputs_to_buffers),
        "buffers_to_mutate": dict(sig.buffers_to_mutate),
        "parameters_to_mutate": dict(sig.parameters_to_mutate),
        "user_inputs_to_mutate": dict(sig.user_inputs_to_mutate),
        "in_spec": json.loads(treespec_dumps(sig.in_spec)),
        "out_spec": json.loads(treespec_dumps(sig.out_spec)),
        "backward_signature": None
        if backward is None
        else {
            "gradients_to_parameters": dict(backward.gradients_to_parameters),
            "gradients_to_user_inputs": dict(backward.gradients_to_user_inputs),
            "loss_output": backward.loss_output,
        },
        "input_tokens": list(sig.input_tokens),
        "output_tokens": list(sig.output_tokens),
        "graph_input_names": placeholders,
        "graph_output_names": outputs,
    }


def export(module, args, flavour):
    joint = flavour == "joint"
    try:
        with torch.enable_grad() if joint else torch.no_grad():
            kwargs = {"output_loss_index": 0} if joint else {}
            gm, sig = aot_export_module(module, args, trace_joint=joint, **kwargs)
    except Exception as e:  # noqa: BLE001 - PyTorch's refusal is the result
        return {"error": error(e, f"aot_export_module[{flavour}]")}
    return signature(gm, sig)


def function_case(f, make_args, module=None):
    """`module(f, joint)` builds the exported module; plain functions by default."""

    def run(config):
        expect = {"torch_version": torch.__version__.split("+")[0]}
        err = collect(
            f if module is None else module(f, False),
            make_args(),
            config["grad_enabled"],
        )
        if err is not None:
            expect["error"] = err
        sigs = {}
        for flavour in config.get("export", ["inference"]):
            m = (
                Fn(f, flavour == "joint")
                if module is None
                else module(f, flavour == "joint")
            )
            sigs[flavour] = export(m, make_args(), flavour)
        expect["graph_signature"] = sigs
        return expect

    return run


def param_module(f, joint):
    return WithParam(f, joint)


# --- the programs (each dump in this folder describes the same one) -------


def mutated_duplicate(a, b):
    a.add_(1)
    return a * b


def mutated_overlapping_views(a, b):
    a.mul_(2)
    return a + b


def mutated_disjoint_views(a, b):
    a.mul_(2)
    return a + b


def no_grad_param_update(w, x):
    w.add_(x)
    return w * x


def output_made_under_enable_grad(x):
    with torch.enable_grad():
        y = x * 2
    return y


def multi_output_view_written(x):
    t = x * 2
    a, _ = t.unbind(0)
    a.mul_(2)
    return t


def multi_output_view_used_after_base_write(x):
    t = x * 2
    a, _ = t.unbind(0)
    t.mul_(2)
    return a + 1


def no_grad_view_written_with_grad(x, y):
    with torch.no_grad():
        v = x.view(-1)
    v.add_(y)
    return v * 2


def no_grad_view_used_after_base_write(x, y):
    with torch.no_grad():
        v = x.view(-1)
    x.mul_(y)
    return v * 2


def write_through_view_after_set(a, b):
    v = a.view(-1)
    a.set_(b)
    v.add_(1)
    return a + 1


def out_variant_requires_grad(x):
    o = torch.empty(4)
    torch.add(x, 1, out=o)
    return o


def detach_view_in_place(x):
    t = x * 2
    v = t.view(-1)
    v.detach_()
    return t


def resize_requires_grad(x):
    t = x * 2
    t.resize_(2)
    return t


def inplace_on_leaf_requiring_grad(x):
    x.add_(1)
    return x * 2


def dict_output(x):
    return {"a": x + 1}


def twice(x):
    return [x, x]


def views_of(base, *slices):
    return [base[s] for s in slices]


CASES = {
    "export_mutated_duplicate": function_case(
        mutated_duplicate, lambda: twice(leaf(4))
    ),
    "export_mutated_overlapping_views": function_case(
        mutated_overlapping_views, lambda: views_of(leaf(8), slice(0, 6), slice(2, 8))
    ),
    "export_mutated_disjoint_views": function_case(
        mutated_disjoint_views, lambda: views_of(leaf(8), slice(0, 4), slice(4, 8))
    ),
    "export_no_grad_parameter_update": function_case(
        no_grad_param_update, lambda: [leaf(4)], module=param_module
    ),
    "export_output_made_under_enable_grad": function_case(
        output_made_under_enable_grad, lambda: [leaf(4, rg=True)]
    ),
    "autograd_multi_output_view_written": function_case(
        multi_output_view_written, lambda: [leaf(2, 3, rg=True)]
    ),
    "autograd_multi_output_view_used_after_base_write": function_case(
        multi_output_view_used_after_base_write, lambda: [leaf(2, 3, rg=True)]
    ),
    "autograd_no_grad_view_written_with_grad": function_case(
        no_grad_view_written_with_grad, lambda: [leaf(4), leaf(4, rg=True)]
    ),
    "autograd_no_grad_view_used_after_base_write": function_case(
        no_grad_view_used_after_base_write, lambda: [leaf(4), leaf(4, rg=True)]
    ),
    "autograd_write_through_view_after_set": function_case(
        write_through_view_after_set, lambda: [leaf(4), leaf(4)]
    ),
    "autograd_out_variant_requires_grad": function_case(
        out_variant_requires_grad, lambda: [leaf(4, rg=True)]
    ),
    "autograd_detach_view_in_place": function_case(
        detach_view_in_place, lambda: [leaf(4, rg=True)]
    ),
    "autograd_resize_requires_grad": function_case(
        resize_requires_grad, lambda: [leaf(4, rg=True)]
    ),
    "autograd_inplace_on_leaf_requiring_grad": function_case(
        inplace_on_leaf_requiring_grad, lambda: [leaf(4, rg=True)]
    ),
    "export_dict_output": function_case(dict_output, lambda: [leaf(3)]),
}


def main():
    for name, run in CASES.items():
        path = HERE / f"{name}.json"
        dump = json.loads(path.read_text())
        dump["expect"] = run(dump["config"])
        path.write_text(json.dumps(dump, indent=1) + "\n")
        print(
            name,
            json.dumps(
                {k: v for k, v in dump["expect"].items() if k != "graph_signature"}
            ),
        )


if __name__ == "__main__":
    main()
