//! Snapshots of the text and DOT reports of conformance cases. Each was
//! checked by hand against the case's `expect` block (PyTorch's own results),
//! noted beside it; update with `UPDATE_EXPECT=1 cargo test --test cli_report`
//! and check again.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use expect_test::{expect, Expect};

/// The text report of a case read from standard input (so the label does
/// not depend on where the checkout is), up to the export signatures (their
/// text is tested with them, in `tests/signature.rs`).
fn check(case: &str, expect: Expect) {
    check_format(case, "text", expect);
}

/// [`check`] in any `--format`.
fn check_format(case: &str, format: &str, expect: Expect) {
    let dump = std::fs::read(common::cases_dir().join(format!("{case}.json"))).expect("case");
    let mut child = Command::new(env!("CARGO_BIN_EXE_aotio"))
        .args(["analyze", "-", "--format", format])
        .env_remove("AOTIO_LOG")
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&dump)
        .expect("the dump is written");
    let out = child.wait_with_output().expect("the binary ends");
    let text = String::from_utf8(out.stdout).expect("UTF-8 report");
    let report = text
        .split("\nexport graph signatures")
        .next()
        .unwrap_or_default();
    expect.assert_eq(report);
}

/// expect: a is MUTATED_OUT_GRAPH (mutates_data, is_leaf), b NOT_MUTATED; one
/// non_alias output; overlapping_inputs [0, 1] of group [0, 1]; aot_guards
/// StorageOverlap with overlapping L['a'], L['b'] and none non-overlapping;
/// synthetic base needed, one inner arg `args[0]._base` for both. The
/// offset `s47` is symbolic: the verdict holds only at the hints.
#[test]
fn symbolic_overlap_and_its_guard() {
    check(
        "sym_overlapping_slices_mutation",
        expect![[r#"
            aotio analysis of standard input (5 nodes)
            graph kind: inference

            inputs (2):
              #  name  tensor             stride    offset  storage  mutation_type      flags
              0  a     float32[s93, s97]  [s92, 1]  0       0        MUTATED_OUT_GRAPH  mutates_data is_leaf
              1  b     float32[s93, s97]  [s92, 1]  s47     0        NOT_MUTATED        is_leaf

              MUTATED_OUT_GRAPH  written: the graph returns the new value and the runtime copies it back
              NOT_MUTATED        never written

            outputs (1):
              #  name  output_type  base  flags
              0  add   non_alias    -

              non_alias  a new tensor (or not a tensor)

            intermediate bases: 0
            traced tangents (0):

            forward returns: 2 = 1 mutated inputs + 1 outputs + 0 intermediate bases
            mutated_inp_runtime_indices: [0]; mutated_graph_handled_indices: []

            dedupe:
              no tensor is passed twice

            inputs sharing a storage:
              [0] a, [1] b: overlapping [0, 1]

            symbolic overlap (PyTorch decides at the size hints):
              [0] a, [1] b: may overlap, only at the hints (a guard protects it)

            guards PyTorch installs:
              StorageOverlap: overlapping L['a'], L['b']; non-overlapping none

            synthetic bases:
              inner [0] = args[0]._base: regenerates [0] a, [1] b (they overlap and one is mutated)
              other inputs pass through as inner []

            why:
              input [0] a is mutated by node add_ (grad enabled)
              [0] a and [1] b overlap: both touch element 2, at the size hints
              synthetic base 0 regenerates inputs [0, 1]: they share a storage, and [0] is mutated
        "#]],
    );
}

/// expect: outputs non_alias, alias_of_input (base 0), is_input (base 1),
/// alias_of_intermediate_save_as_output, alias_of_intermediate, then five
/// non-tensor non_alias; requires_grad and requires_grad_for_backward on
/// the first two and the two intermediate aliases; one intermediate base;
/// two tangents; 11 forward returns.
#[test]
fn every_kind_of_output() {
    check(
        "mixed_outputs",
        expect![[r#"
            aotio analysis of standard input (8 nodes)
            graph kind: joint (forward + backward)

            inputs (2):
              #  name  tensor         stride  offset  storage  mutation_type  flags
              0  x     float32[2, 3]  [3, 1]  0       0        NOT_MUTATED    requires_grad is_leaf
              1  y     float32[4]     [1]     0       1        NOT_MUTATED    is_leaf

              NOT_MUTATED  never written

            outputs (10):
              #  name    output_type                           base                   flags
              0  add     non_alias                             -                      requires_grad requires_grad_for_backward
              1  view    alias_of_input                        input [0] x            requires_grad requires_grad_for_backward
              2  y       is_input                              input [1] y
              3  t       alias_of_intermediate_save_as_output  intermediate base [0]  requires_grad requires_grad_for_backward
              4  select  alias_of_intermediate                 intermediate base [0]  requires_grad requires_grad_for_backward
              5  7       non_alias                             -
              6  2.5     non_alias                             -
              7  True    non_alias                             -
              8  None    non_alias                             -
              9  4       non_alias                             -

              non_alias                             a new tensor (or not a tensor)
              alias_of_input                        a view of an input, regenerated from it at runtime
              is_input                              the input itself
              alias_of_intermediate_save_as_output  a view of an intermediate, whose base is returned as an extra output
              alias_of_intermediate                 a view of an intermediate base another output already returns

            intermediate bases: 1
            traced tangents (2):
              float32[2, 3] stride [3, 1] offset 0 __output_tangent(output[0])
              float32[2, 3] stride [3, 1] offset 0 __output_tangent(__intermediate_base(output[3]))

            forward returns: 11 = 0 mutated inputs + 10 outputs + 1 intermediate bases
            mutated_inp_runtime_indices: []; mutated_graph_handled_indices: []

            dedupe:
              no tensor is passed twice

            inputs sharing a storage:
              none

            synthetic bases:
              none needed

            why:
              output [1] view is a view of input [0] x through view
              output [2] y is input [1] y
              output [3] t is a view of node mul through t
              output [4] select is a view of node mul through select_int
        "#]],
    );
}

/// expect: both inputs MUTATED_OUT_GRAPH; dedupe remove_duplicates with
/// keep_arg_mask [true, false] and add_dupe_map [0, 0]; no synthetic base.
#[test]
fn a_duplicated_input() {
    check(
        "dup_args_mutation",
        expect![[r#"
            aotio analysis of standard input (5 nodes)
            graph kind: inference

            inputs (2):
              #  name  tensor      stride  offset  storage  mutation_type      flags
              0  a     float32[3]  [1]     0       0        MUTATED_OUT_GRAPH  mutates_data is_leaf
              1  b     float32[3]  [1]     0       0        MUTATED_OUT_GRAPH  mutates_data is_leaf

              MUTATED_OUT_GRAPH  written: the graph returns the new value and the runtime copies it back

            outputs (1):
              #  name  output_type  base  flags
              0  mul   non_alias    -

              non_alias  a new tensor (or not a tensor)

            intermediate bases: 0
            traced tangents (0):

            forward returns: 3 = 2 mutated inputs + 1 outputs + 0 intermediate bases
            mutated_inp_runtime_indices: [0, 1]; mutated_graph_handled_indices: []

            dedupe:
              #  name  keep_arg_mask  add_dupe_map
              0  a     true           0 (kept as inner [0])
              1  b     false          0 (dropped: reads inner [0])

            inputs sharing a storage:
              none

            synthetic bases:
              none needed

            why:
              input [0] a is mutated by node add_ (grad enabled)
              input [1] b is mutated by node add_ (grad enabled)
        "#]],
    );
}

/// expect: a MUTATED_OUT_GRAPH, b NOT_MUTATED, both of storage 0 (offsets
/// 0 and 2, stride [8, 1]); overlapping_inputs [0, 1] of group [0, 1]; one
/// synthetic base for both (`args[0]._base`); one non_alias output. The DOT
/// draws the shared storage, PyTorch's "may overlap" edge and the base.
#[test]
fn overlap_and_synthetic_base_drawn() {
    check_format(
        "overlapping_slices_mutation",
        "dot",
        expect![[r##"
        digraph aotio {
          rankdir=LR;
          newrank=true;
          nodesep=0.15;
          node [fontname="monospace", fontsize=10];
          edge [fontname="monospace", fontsize=9];
          labelloc=t;
          label="aotio: standard input";
          subgraph cluster_inputs {
            label="inputs";
            style=rounded;
            fontcolor=black;
            in0 [shape=box, label="[0] a\lfloat32[3, 4] stride [8, 1]\loffset 0  storage 0\lMUTATED_OUT_GRAPH\l", style=filled, fillcolor="#f4c7c3"];
            in1 [shape=box, label="[1] b\lfloat32[3, 4] stride [8, 1]\loffset 2  storage 0\lNOT_MUTATED\l"];
          }
          storage0 [shape=cylinder, label="storage 0"];
          in0 -> storage0 [style=dashed, color=gray40, arrowhead=none];
          in1 -> storage0 [style=dashed, color=gray40, arrowhead=none];
          in0 -> in1 [dir=none, color=red, fontcolor=red, style=dashed, label="may overlap", constraint=false];
          base0 [label="synthetic base 0", shape=ellipse, color=blue, fontcolor=blue];
          base0 -> in0 [color=blue, label="view"];
          base0 -> in1 [color=blue, label="view"];
          subgraph cluster_outputs {
            label="outputs";
            style=rounded;
            fontcolor=black;
            out0 [shape=box, style=rounded, label="[0] add\lnon_alias\l"];
          }
          subgraph cluster_legend {
            label="legend";
            style=rounded;
            fontcolor=black;
            legend [shape=plaintext, label=<<table border="0" cellspacing="2" cellpadding="2">
              <tr><td bgcolor="#f4c7c3">   </td><td align="left">input mutated (data or metadata)</td></tr>
              <tr><td bgcolor="#e0e0e0">   </td><td align="left">duplicate input, dropped by dedupe (dotted: the input it reads)</td></tr>
              <tr><td><font color="gray40">- -</font></td><td align="left">shares the storage (drawn when shared)</td></tr>
              <tr><td><font color="red">———</font></td><td align="left">overlaps: exact mode, with an element both touch</td></tr>
              <tr><td><font color="red">- -</font></td><td align="left">may overlap: PyTorch's check (torch mode)</td></tr>
              <tr><td><font color="blue">———</font></td><td align="left">synthetic base and the inputs regenerated from it</td></tr>
              <tr><td><font color="darkgreen">———</font></td><td align="left">output aliasing an input, output or intermediate base</td></tr>
            </table>>];
          }
          in1 -> out0 [style=invis];
          out0 -> legend [style=invis];
        }
    "##]],
    );
}

/// expect: error at collect_metadata, RuntimeError (resizing a view input
/// to a larger size).
#[test]
fn a_refusal_names_stage_type_and_node() {
    check(
        "resize_grow_input_error",
        expect![[r#"
        aotio analysis of standard input (3 nodes)

        PyTorch refuses this graph at collect_metadata with RuntimeError:
          Attempted to resize a view tensor to a larger size. This is not allowed in the functionalization pass

        inputs (1):
          #  name  tensor      stride  offset  storage
          0  x     float32[3]  [1]     0       0

        why:
          PyTorch refuses at collect_metadata because of node resize_
    "#]],
    );
}

/// Every refusal in the test data names the node behind it (item 9 of
/// issue 16): the node that fails, or the input the refusal is about.
#[test]
fn every_refusal_names_its_node() {
    let files = common::case_files()
        .into_iter()
        .chain(common::case_files_in(&common::pytorch_cases_dir()));
    let mut refusals = 0;
    for path in files {
        let out = Command::new(env!("CARGO_BIN_EXE_aotio"))
            .args(["analyze", "--format", "json", "--why"])
            .arg(&path)
            .env_remove("AOTIO_LOG")
            .env_remove("RUST_LOG")
            .output()
            .expect("the binary runs");
        let report: serde_json::Value =
            serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{path:?}: {e}"));
        if let Some(refusal) = report["why"].get("refusal") {
            refusals += 1;
            assert!(
                refusal["node"].is_string(),
                "{}: no node for {refusal}",
                path.display()
            );
        }
    }
    assert!(refusals >= 12, "only {refusals} refusals found");
}
