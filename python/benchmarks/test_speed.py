"""Speed of the Python front door beside the Rust figures (issue 13).

Run: `pytest python/benchmarks` (with the extension built by scripts/test).
The Rust baselines are criterion's `incremental/10000/cold` (a new session
over an already loaded graph, and its report) and
`incremental/10000/tensor_metadata_set` / `tensor_metadata` (one weight stored
transposed, set directly / through `Session::update`, then the report):
`cargo bench --bench incremental -- 'incremental/10000/(cold|tensor_metadata)'`.
"""

from __future__ import annotations

import aotio


def test_analyze_10k_nodes(benchmark, generated):
    """`aotio.analyze` on an already loaded graph: compare with Rust `cold`."""
    base, _ = generated
    report = benchmark.pedantic(aotio.analyze, args=(base,), rounds=10, warmup_rounds=1)
    assert report.error is None


def test_analyze_10k_nodes_to_dict(benchmark, generated):
    """The same with the whole report converted to Python objects."""
    base, _ = generated
    result = benchmark.pedantic(lambda: aotio.analyze(base).to_dict(), rounds=10, warmup_rounds=1)
    assert "fw_metadata" in result


def test_session_update_and_report_after_one_tensor_edit(benchmark, generated):
    """`Session.update` + `report()` alternating between the two versions, so
    that every round is one change: compare with Rust `tensor_metadata_set`
    (direct edit) and `tensor_metadata` (update)."""
    base, edited = generated
    session = aotio.Session(base)
    session.report()
    towards_edited = [False]

    def step():
        towards_edited[0] = not towards_edited[0]
        summary = session.update(edited if towards_edited[0] else base)
        report = session.report()
        return summary, report

    summary, _ = benchmark.pedantic(step, rounds=100, warmup_rounds=5)
    assert summary.values_changed >= 1 and summary.structures_changed == 0
    # Incremental, not a re-analysis.
    assert 0 < len(session.executed_queries()) < 1000


def test_session_update_and_report_fresh_graph_objects(benchmark, generated):
    """The same, each round handed a newly loaded `Graph` (loaded outside the
    timing), as a loop that re-traces would: compare with Rust
    `tensor_metadata`, whose setup clones the graph for every iteration."""
    base, edited = generated
    texts = [base.to_json(), edited.to_json()]
    session = aotio.Session(base)
    session.report()
    towards_edited = [False]

    def fresh():
        towards_edited[0] = not towards_edited[0]
        return (aotio.Graph.loads(texts[towards_edited[0]]),), {}

    def step(graph):
        summary = session.update(graph)
        return summary, session.report()

    summary, _ = benchmark.pedantic(step, setup=fresh, rounds=20, warmup_rounds=1)
    assert summary.values_changed >= 1 and summary.structures_changed == 0
