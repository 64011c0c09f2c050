"""aotio.tracing: errors, options and invariants of the dump it writes."""

from __future__ import annotations

import pytest
import torch

from aotio.compare import pytorch_expect
from aotio.tracing import TraceError, trace_dict


def test_data_dependent_control_flow_names_op_and_line():
    def branchy(x):
        if x.sum() > 0:  # the line the error must name
            return x + 1
        return x - 1

    with pytest.raises(TraceError) as info:
        trace_dict(branchy, (torch.randn(3),))
    message = str(info.value)
    assert "aten._local_scalar_dense" in message
    assert "if x.sum() > 0:" in message
    assert isinstance(info.value, RuntimeError)


def test_data_dependent_output_shape_names_op():
    with pytest.raises(TraceError, match="aten.nonzero"):
        trace_dict(lambda x: x.nonzero(), (torch.randn(4),))


def test_unrepresentable_argument_is_a_trace_error():
    gen = torch.Generator()

    def f(x):
        return torch.rand(3, generator=gen) + x

    with pytest.raises(TraceError):
        trace_dict(f, (torch.randn(3),))


def test_unknown_export_flavour_is_refused():
    with pytest.raises(ValueError, match="backward"):
        trace_dict(lambda x: x + 1, (torch.randn(2),), export=("backward",))


def test_grad_mode_at_entry_is_the_callers():
    with torch.no_grad():
        dump = trace_dict(lambda x: x * 2, (torch.randn(2, requires_grad=True),))
    assert dump["config"]["grad_enabled"] is False
    assert torch.is_grad_enabled()
    dump = trace_dict(lambda x: x * 2, (torch.randn(2),))
    assert dump["config"]["grad_enabled"] is True


def test_program_leaving_grad_off_does_not_leak_into_caller():
    def f(x):
        torch.set_grad_enabled(False)
        return x + 1

    dump = trace_dict(f, (torch.randn(2),))
    assert torch.is_grad_enabled()
    targets = [n["target"] for n in dump["nodes"]]
    assert "torch._C._set_grad_enabled" in targets


def test_caller_tensors_and_module_are_untouched():
    m = torch.nn.BatchNorm1d(3)
    x = torch.randn(4, 3)
    before = (m.running_mean.clone(), m.num_batches_tracked.clone(), x.clone())
    dump = trace_dict(m, (x,))
    assert torch.equal(m.running_mean, before[0])
    assert torch.equal(m.num_batches_tracked, before[1])
    assert torch.equal(x, before[2])
    kinds = [n.get("kind") for n in dump["nodes"] if n["op"] == "placeholder"]
    assert kinds == ["parameter", "parameter", "buffer", "buffer", "buffer", "user_input"]


def test_export_and_options_fill_config():
    dump = trace_dict(
        lambda x: x + 1,
        (torch.randn(2),),
        export=("joint", "inference"),
        keep_input_mutations=True,
    )
    assert dump["config"]["export"] == ["inference", "joint"]
    assert dump["config"]["keep_input_mutations"] is True


def test_every_call_target_has_a_schema_and_tags():
    m = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.LayerNorm(3), torch.nn.Dropout(0.1))
    dump = trace_dict(m, (torch.randn(2, 3),))
    for node in dump["nodes"]:
        if node["op"] == "call_function" and node["target"].startswith("aten."):
            assert node["target"] in dump["operators"]
            assert node["target"] in dump["operator_tags"]
    # CompositeImplicitAutograd ops never reach the dump.
    assert "aten.linear.default" not in dump["operators"]
    assert "aten.dropout.default" not in dump["operators"]
    assert "aten.layer_norm.default" not in dump["operators"]


def test_factory_results_are_nodes_not_constants():
    # A factory's result mutated in place must stay a node of the graph.
    def f(x):
        return torch.ones_like(x).add_(x), torch.zeros(3).mul_(2) + x

    dump = trace_dict(f, (torch.randn(3),))
    ops = [n["op"] for n in dump["nodes"]]
    targets = [n["target"] for n in dump["nodes"]]
    assert "get_attr" not in ops
    assert "aten.ones_like.default" in targets
    assert "aten.zeros.default" in targets
    (add_,) = [n for n in dump["nodes"] if n["target"] == "aten.add_.Tensor"]
    (ones,) = [n for n in dump["nodes"] if n["target"] == "aten.ones_like.default"]
    assert add_["args"][0] == {"node": ones["name"]}
    assert add_["tensor_id"] == ones["tensor_id"]


def test_closed_over_tensor_is_named_as_a_constant():
    table = torch.zeros(3)

    def f(x):
        return x + table

    with pytest.raises(TraceError, match="register it as a buffer") as info:
        trace_dict(f, (torch.randn(3),))
    assert "x + table" in str(info.value)


@pytest.mark.parametrize("kind", ["multi_output_view", "no_grad_view"])
def test_stale_view_used_after_inplace_is_refused_like_pytorch(kind):
    # Autograd forbids using these views once their base changed in place;
    # the trace fails at that use, and PyTorch's analysis refuses too.
    def f(x):
        t = x * 2
        if kind == "multi_output_view":
            v = t.unbind(0)[0]
        else:
            with torch.no_grad():
                v = t[0]
        t.mul_(3)
        return v + 1

    args = (torch.randn(3, 2, requires_grad=True),)
    with pytest.raises(TraceError, match="modified inplace") as info:
        trace_dict(f, args)
    assert "return v + 1" in str(info.value)
    assert pytorch_expect(f, args)["error"]["stage"] == "collect_metadata"


def test_storage_swap_is_traced_the_same_every_time():
    # FakeTensorMode's process-wide cache would replay shallow_copy_data_
    # without swapping the storage on a second trace.
    def f(x, y):
        torch.ops.aten.shallow_copy_data_(x, y * 2)
        return x + 1

    def storages():
        dump = trace_dict(f, (torch.randn(3), torch.randn(3)))
        return {n["name"]: n["val"]["tensor"]["storage"] for n in dump["nodes"] if n["val"]}

    first, second = storages(), storages()
    assert first == second
    assert first["shallow_copy_data_"] == first["mul"] != first["x"]


def test_method_of_a_module_lifts_its_parameters():
    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(3, 2)

        def score(self, x, *, scale):
            return self.fc(x).sum() * scale

    model = Model()
    dump = trace_dict(model.score, (torch.randn(4, 3),), {"scale": 2.0})
    placeholders = [n for n in dump["nodes"] if n["op"] == "placeholder"]
    assert [(n["name"], n["kind"], n["source"]) for n in placeholders] == [
        ("p_fc_weight", "parameter", "L['self']._modules['fc']._parameters['weight']"),
        ("p_fc_bias", "parameter", "L['self']._modules['fc']._parameters['bias']"),
        ("x", "user_input", "L['x']"),
        ("scale", "user_input", "L['scale']"),
    ]
    assert dump["config"]["num_params_buffers"] == 2


def test_implicit_kernel_registered_between_traces_is_decomposed():
    trace_dict(lambda x: x + 1, (torch.randn(2),))  # builds the decomposition table
    lib = torch.library.Library("aotio_trace_test", "DEF")
    lib.define("flat_twice(Tensor x) -> Tensor")
    lib.impl("flat_twice", lambda x: x.reshape(-1) * 2, "CompositeImplicitAutograd")
    dump = trace_dict(lambda x: torch.ops.aotio_trace_test.flat_twice(x), (torch.randn(2, 3),))
    targets = [n["target"] for n in dump["nodes"] if n["op"] == "call_function"]
    assert targets == ["aten.view.default", "aten.mul.Tensor"]
