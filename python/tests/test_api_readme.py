"""The README's Python example runs, and prints what it says it prints."""

from __future__ import annotations

import contextlib
import io
import re
import runpy

from conftest import REPO


def test_readme_example_runs(tmp_path):
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Python", 1)[1].split("\n## ", 1)[0].split("\n### ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    assert len(blocks) == 1
    out = io.StringIO()
    script = tmp_path / "readme_example.py"
    script.write_text(blocks[0])
    with contextlib.redirect_stdout(out):
        runpy.run_path(str(script), run_name="__main__")
    lines = out.getvalue().splitlines()
    mutated = [line.split()[0] for line in lines if line.endswith("MUTATED_OUT_GRAPH")]
    assert mutated == ["norm.running_mean", "norm.running_var", "norm.num_batches_tracked"]
    assert (
        "[<OutputType.non_alias: 1>, <OutputType.alias_of_intermediate_base_is_user_output: 6>]"
        in lines
    )
    assert "'linear.weight'" in lines[-1]
