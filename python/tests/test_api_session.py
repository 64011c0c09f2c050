"""`aotio.Session`: a recompilation loop pays only for what changed."""

from __future__ import annotations

import copy
import json

import pytest
from conftest import REPO

import aotio

BASE = json.loads((REPO / "tests/data/incremental/two_storages.json").read_text())


def node(dump, name):
    return next(n for n in dump["nodes"] if n["name"] == name)


def ran(log, query):
    return sum(1 for q in log if q.startswith(f"{query}("))


@pytest.fixture
def session():
    s = aotio.Session(aotio.Graph.from_dict(BASE))
    s.report()
    return s


def test_first_report_runs_the_queries(session):
    log = session.executed_queries()
    assert ran(log, "fw_metadata") == 1
    assert ran(log, "group_overlap") == 2  # two storages, two groups


def test_resubmitting_the_same_graph_reruns_nothing(session):
    summary = session.update(aotio.Graph.from_dict(BASE))
    assert summary.is_empty()
    session.report()
    assert session.executed_queries() == []


def test_one_offset_edit_reruns_its_storage_group_only(session):
    edited = copy.deepcopy(BASE)
    node(edited, "a1")["val"]["tensor"]["storage_offset"] = 2
    summary = session.update(aotio.Graph.from_dict(edited))
    assert (summary.values_changed, summary.structures_changed) == (1, 0)
    assert (summary.nodes_added, summary.nodes_removed, summary.fields_changed) == (0, 0, [])
    report = session.report()
    log = session.executed_queries()
    assert ran(log, "alias_trace") == 0
    assert ran(log, "input_alias_info") == 0
    assert ran(log, "group_overlap") == 1
    # Whatever re-ran, the result is the one a fresh analysis computes.
    assert report.to_dict() == aotio.analyze(aotio.Graph.from_dict(edited)).to_dict()
    # Storage 0's views now overlap, and the report says so.
    groups = {g.aliased_input_indices: g.overlapping for g in report.overlapping_inputs}
    assert groups[(0, 1)] == (0, 1)


def test_renaming_a_node_is_one_added_and_one_removed(session):
    edited = copy.deepcopy(BASE)
    node(edited, "relu")["name"] = "relu_renamed"
    node(edited, "output")["args"][0][0]["node"] = "relu_renamed"
    summary = session.update(aotio.Graph.from_dict(edited))
    assert (summary.nodes_added, summary.nodes_removed) == (1, 1)
    assert session.report().to_dict() == aotio.analyze(aotio.Graph.from_dict(edited)).to_dict()


def test_config_change_is_named(session):
    edited = copy.deepcopy(BASE)
    edited["config"]["keep_input_mutations"] = not edited["config"]["keep_input_mutations"]
    summary = session.update(aotio.Graph.from_dict(edited))
    assert summary.fields_changed == ["config"]
    assert "fields_changed=['config']" in repr(summary)
    report = session.report()
    assert report.fw_metadata.keep_input_mutations == edited["config"]["keep_input_mutations"]


def test_exact_overlap_mode():
    # Views the row rule makes PyTorch miss; exact mode finds the overlap.
    dump = json.loads((REPO / "tests/data/incremental/row_rule_miss.json").read_text())
    graph = aotio.Graph.from_dict(dump)
    torch_mode = aotio.Session(graph).report().to_dict()
    exact_mode = aotio.Session(graph, overlap="exact").report().to_dict()
    assert torch_mode != exact_mode
    assert exact_mode == aotio.analyze(graph, overlap="exact").to_dict()
    with pytest.raises(ValueError, match="overlap mode"):
        aotio.Session(graph, overlap="fast")


def test_threads_sharing_a_session_neither_deadlock_nor_mix_results():
    import threading

    edited = copy.deepcopy(BASE)
    node(edited, "a1")["val"]["tensor"]["storage_offset"] = 2
    graphs = [aotio.Graph.from_dict(BASE), aotio.Graph.from_dict(edited)]
    expected = [aotio.analyze(g).to_dict() for g in graphs]
    shared = aotio.Session(graphs[0])
    errors = []

    def work(k):
        try:
            for i in range(30):
                shared.update(graphs[(i + k) % 2])
                # Another thread may update in between: any report is one of the two.
                assert shared.report().to_dict() in expected
        except (AssertionError, ValueError, RuntimeError) as exc:  # reported below
            errors.append((k, exc))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a thread is stuck"
    assert not errors, errors
