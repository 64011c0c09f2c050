"""`aotio.Graph`, `aotio.analyze` and the typed report objects."""

from __future__ import annotations

import dataclasses
import enum
import json

import pytest
from conftest import GRAPHS, REPO

import aotio

CASES = {p.stem: p for p in GRAPHS}


def dump_of(name):
    d = json.loads(CASES[name].read_text())
    d.pop("expect")
    return d


# --- Graph --------------------------------------------------------------


def test_the_four_ways_in_give_the_same_graph(tmp_path):
    d = dump_of("module_batchnorm_train")
    from_dict = aotio.Graph.from_dict(d)
    from_text = aotio.Graph.loads(json.dumps(d))
    path = tmp_path / "g.json"
    from_dict.save(path)
    from_file = aotio.Graph.load(path)
    from_json = aotio.Graph.loads(from_dict.to_json())
    reports = [aotio.analyze(g).to_dict() for g in (from_dict, from_text, from_file, from_json)]
    assert reports[0] == reports[1] == reports[2] == reports[3]
    assert from_file.to_dict() == d
    assert json.loads(from_dict.to_json(indent=2)) == d
    assert len(from_dict) == len(d["nodes"])
    assert from_dict.name == d["name"]
    assert repr(from_dict) == f'Graph(name="{d["name"]}", nodes={len(d["nodes"])})'


def test_to_dict_is_a_copy():
    d = dump_of("plain_pointwise")
    g = aotio.Graph.from_dict(d)
    out = g.to_dict()
    out["nodes"].clear()
    d["nodes"].clear()
    assert len(g.to_dict()["nodes"]) == len(g)


def test_bad_dump_lists_every_problem_with_node_and_field():
    d = dump_of("plain_pointwise")
    first, second = d["nodes"][0], d["nodes"][1]
    first["val"]["tensor"]["shape"] = "three"
    second["target"] = 7
    with pytest.raises(aotio.GraphError) as info:
        aotio.Graph.from_dict(d)
    err = info.value
    assert isinstance(err, ValueError)
    assert len(err.diagnostics) >= 2
    assert {"node", "field", "message", "line", "column"} <= set(err.diagnostics[0])
    text = str(err)
    assert "shape" in text and "target" in text
    assert first["name"] in text and second["name"] in text


def test_json_syntax_error_has_line_and_column(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"format": "aotio.graph",\n "version": 1,,}')
    with pytest.raises(aotio.GraphError) as info:
        aotio.Graph.load(path)
    (d,) = info.value.diagnostics
    assert d["line"] == 2
    assert d["column"] is not None
    assert str(path) in str(info.value)


def test_missing_file_is_an_os_error(tmp_path):
    with pytest.raises(OSError, match="cannot read"):
        aotio.Graph.load(tmp_path / "nope.json")


def test_unsupported_version_is_named():
    d = dump_of("plain_pointwise")
    d["version"] = 2
    with pytest.raises(aotio.GraphError, match="version 2 is not supported"):
        aotio.Graph.from_dict(d)


def test_from_dict_wants_a_dict():
    with pytest.raises(TypeError, match="not list"):
        aotio.Graph.from_dict([1, 2])
    with pytest.raises(aotio.GraphError, match="JSON-like"):
        aotio.Graph.from_dict({"format": "aotio.graph", "x": object()})


# --- analyze ------------------------------------------------------------


def test_analyze_wants_a_graph_or_a_callable():
    with pytest.raises(TypeError, match="not dict"):
        aotio.analyze({"format": "aotio.graph"})
    g = aotio.Graph.from_dict(dump_of("plain_pointwise"))
    with pytest.raises(TypeError, match="tracing"):
        aotio.analyze(g, args=(1,))
    with pytest.raises(ValueError, match="overlap mode"):
        aotio.analyze(g, overlap="fast")


def test_analysis_error_for_a_dump_that_loads_but_cannot_be_followed():
    d = dump_of("inplace_add_input")
    # A grad-mode switch whose argument is not a bool: well-formed, meaningless.
    switch = {
        "name": "set_grad",
        "op": "call_function",
        "target": "torch._C._set_grad_enabled",
        "args": ["yes"],
        "kwargs": {},
        "val": None,
    }
    d["nodes"].insert(1, switch)
    graph = aotio.Graph.from_dict(d)
    with pytest.raises(aotio.AnalysisError) as info:
        aotio.analyze(graph)
    assert isinstance(info.value, aotio.GraphError)
    assert "node `set_grad`, field `args[0]`" in str(info.value)


# --- the typed report -----------------------------------------------------


def test_typed_fields_have_pytorchs_names_and_values():
    report = aotio.analyze(aotio.Graph.from_dict(dump_of("module_buffer_and_input_mutation")))
    expect = json.loads(CASES["module_buffer_and_input_mutation"].read_text())["expect"]
    meta = report.fw_metadata
    assert isinstance(meta, aotio.ViewAndMutationMeta)
    for i, info in enumerate(expect["fw_metadata"]["input_info"]):
        ours = meta.input_info[i]
        assert isinstance(ours, aotio.InputAliasInfo)
        assert ours.mutates_data is info["mutates_data"]
        assert ours.mutation_type is aotio.MutationType[info["mutation_type"]]
    for j, info in enumerate(expect["fw_metadata"]["output_info"]):
        assert meta.output_info[j].output_type is aotio.OutputType[info["output_type"]]
        assert meta.output_info[j].base_idx == info["base_idx"]
    assert report.needs_autograd is expect["needs_autograd"]
    assert meta.num_outputs == expect["fw_metadata"]["num_outputs"]


def test_enums_are_pytorchs():
    torch_schemas = pytest.importorskip("torch._functorch._aot_autograd.schemas")
    for ours, theirs in (
        (aotio.OutputType, torch_schemas.OutputType),
        (aotio.MutationType, torch_schemas.MutationType),
    ):
        assert [(m.name, m.value) for m in ours] == [(m.name, m.value) for m in theirs]


def test_objects_are_read_only():
    report = aotio.analyze(aotio.Graph.from_dict(dump_of("module_batchnorm_train")))
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.fw_metadata.input_info[0].mutates_data = True
    assert isinstance(report.fw_metadata.input_info, tuple)
    sig = report.graph_signature["inference"]
    with pytest.raises(TypeError):
        sig.inputs_to_buffers["x"] = "y"
    with pytest.raises(TypeError):
        report.graph_signature["other"] = sig


def test_repr_reads_like_pytorchs():
    report = aotio.analyze(aotio.Graph.from_dict(dump_of("inplace_add_input")))
    text = repr(report.fw_metadata)
    assert text.startswith("ViewAndMutationMeta(input_info=(InputAliasInfo(is_leaf=")
    assert "output_type=<OutputType." in text
    # mutation_type is derived in PyTorch (a cached property): not in the repr.
    assert "mutation_type" not in repr(report.fw_metadata.input_info[0])


def test_joint_backward_signature():
    report = aotio.analyze(aotio.Graph.from_dict(dump_of("module_linear")))
    expect = json.loads(CASES["module_linear"].read_text())["expect"]
    joint = report.graph_signature["joint"]
    assert isinstance(joint.backward_signature, aotio.BackwardSignature)
    want = expect["graph_signature"]["joint"]["backward_signature"]
    assert len(joint.backward_signature.gradients_to_parameters) == len(
        want["gradients_to_parameters"]
    )
    assert sorted(joint.backward_signature.gradients_to_parameters.values()) == sorted(
        want["gradients_to_parameters"].values()
    )


def test_refusal_is_a_report_error_not_an_exception():
    name = next(n for n in CASES if "error" in json.loads(CASES[n].read_text())["expect"])
    report = aotio.analyze(aotio.Graph.from_dict(dump_of(name)))
    assert isinstance(report.error, aotio.TorchError)
    assert report.error.stage and report.error.type and report.error.message
    assert report.fw_metadata is None and report.needs_autograd is None
    assert repr(report).startswith("Report(error=TorchError(stage=")


def _assert_typed_covers(typed, data, path):
    """Every key of the JSON is an attribute of the typed object, recursively."""
    if isinstance(typed, aotio.TensorMeta) and "tensor" in data:
        data = data["tensor"]  # the dump's value wrapper, unwrapped
    if dataclasses.is_dataclass(typed):
        for key, value in data.items():
            assert hasattr(typed, key), f"{path}.{key} has no attribute on {type(typed).__name__}"
            _assert_typed_covers(getattr(typed, key), value, f"{path}.{key}")
    elif isinstance(typed, tuple) and isinstance(data, list):
        for i, (t, d) in enumerate(zip(typed, data)):
            _assert_typed_covers(t, d, f"{path}[{i}]")


@pytest.mark.parametrize("path", GRAPHS, ids=lambda p: p.stem)
def test_typed_report_exposes_every_field(path):
    d = json.loads(path.read_text())
    d.pop("expect")
    report = aotio.analyze(aotio.Graph.from_dict(d))
    data = report.to_dict()
    for key, value in data.items():
        typed = getattr(report, key)
        assert typed is not None, key
        if key == "graph_signature":
            for flavour, sig in value.items():
                _assert_typed_covers(typed[flavour], sig, f"graph_signature.{flavour}")
        else:
            _assert_typed_covers(typed, value, key)


def test_example_in_the_repository_loads():
    # The embedded example of `aotio analyze` (a BatchNorm training step).
    g = aotio.Graph.load(REPO / "src" / "example.json")
    report = aotio.analyze(g)
    assert any(i.mutates_data for i in report.fw_metadata.input_info)


def test_every_public_name_has_a_docstring():
    missing = []
    for name in aotio.__all__:
        obj = getattr(aotio, name)
        if not (obj.__doc__ or "").strip():
            missing.append(name)
        if isinstance(obj, type) and not issubclass(obj, (BaseException, enum.Enum)):
            for attr, member in vars(obj).items():
                if attr.startswith("_") or dataclasses.is_dataclass(obj):
                    continue
                if not (getattr(member, "__doc__", None) or "").strip():
                    missing.append(f"{name}.{attr}")
    assert not missing, missing


def test_stubs_cover_the_extension():
    import aotio._aotio as native

    stub = (REPO / "python" / "aotio" / "_aotio.pyi").read_text()
    for name in dir(native):
        if not name.startswith("_"):
            assert f" {name}" in stub, f"{name} missing from _aotio.pyi"


def test_inputs_name_the_placeholders_in_order():
    d = dump_of("module_batchnorm_train")
    placeholders = [n for n in d["nodes"] if n["op"] == "placeholder"]
    inputs = aotio.Graph.from_dict(d).inputs
    assert [i["name"] for i in inputs] == [n["name"] for n in placeholders]
    assert [i["kind"] for i in inputs] == [n["kind"] for n in placeholders]
    assert [i["fqn"] for i in inputs] == [n.get("fqn") for n in placeholders]
    assert {"parameter", "buffer", "user_input"} <= {i["kind"] for i in inputs}


def test_importing_aotio_does_not_import_torch():
    import subprocess
    import sys

    code = (
        "import sys, aotio; "
        "assert callable(aotio.compare) and callable(aotio.trace); "
        "import aotio.compare; assert callable(aotio.compare); "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_graphs_compare_by_content():
    d = dump_of("module_linear")
    a = aotio.Graph.from_dict(d)
    assert a == aotio.Graph.loads(json.dumps(d, indent=3))
    d["nodes"][0]["val"]["tensor"]["requires_grad"] = not d["nodes"][0]["val"]["tensor"][
        "requires_grad"
    ]
    assert a != aotio.Graph.from_dict(d)
    assert a != "module_linear"


def test_analyze_traces_a_callable_first():
    import torch

    def step(x, y):
        x.add_(1)
        return y.t(), x * 2

    args = (torch.randn(2, 3), torch.randn(3, 2))
    direct = aotio.analyze(step, args, export=("inference",))
    traced = aotio.analyze(aotio.trace(step, args, export=("inference",)))
    assert direct.to_dict() == traced.to_dict()
    assert direct.fw_metadata.input_info[0].mutates_data
    assert direct.fw_metadata.output_info[0].output_type is aotio.OutputType.alias_of_input
