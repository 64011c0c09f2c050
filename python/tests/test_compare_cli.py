"""``python -m aotio compare FILE.py:NAME``: output and exit status."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

PROGRAMS = textwrap.dedent(
    """
    import torch

    def agrees():
        def f(x, y):
            x.add_(1)
            return x * y, x.view(-1)

        return f, (torch.randn(2, 3), torch.randn(2, 3, requires_grad=True))

    def with_options():
        return (lambda x: x.shape[0] * x), (torch.randn(3, 2),), {}, {"dynamic": True}

    def differs():
        # aotio cannot see that export wraps a returned None in a 1-tuple.
        def f(x):
            x.add_(1)

        return f, (torch.randn(3),)

    def untraceable():
        return (lambda x: x + 1 if x.sum() > 0 else x), (torch.randn(3),)

    def not_a_program():
        return 42
    """
)


@pytest.fixture(scope="module")
def programs(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "progs.py"
    path.write_text(PROGRAMS)
    return path


def run(*args):
    return subprocess.run(
        [sys.executable, "-m", "aotio", "compare", *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_agreement_exits_zero(programs):
    p = run(f"{programs}:agrees")
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip().endswith("no differences")


def test_options_returned_by_the_factory_are_used(programs):
    p = run(f"{programs}:with_options")
    assert p.returncode == 0, p.stderr


def test_disagreement_exits_one_and_lists_fields(programs):
    p = run(f"{programs}:differs")
    assert p.returncode == 1
    assert "graph_signature.inference.user_outputs" in p.stdout
    # The analysis itself agrees; --keys leaves the signature out.
    p = run(f"{programs}:differs", "--keys", "needs_autograd,fw_metadata")
    assert p.returncode == 0, p.stdout


def test_untraceable_program_exits_two_naming_the_line(programs):
    p = run(f"{programs}:untraceable")
    assert p.returncode == 2
    assert "x.sum() > 0" in p.stderr


def test_bad_target_is_a_clear_error(programs):
    p = run(f"{programs}:missing")
    assert p.returncode != 0
    assert "no function named 'missing'" in p.stderr
    p = run(f"{programs}:not_a_program")
    assert p.returncode != 0
    assert "must return" in p.stderr
    p = run(str(programs))
    assert p.returncode != 0
    assert "FILE.py:NAME" in p.stderr


def test_help_documents_the_name_convention():
    p = subprocess.run(
        [sys.executable, "-m", "aotio", "compare", "--help"],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 0
    assert "(fn_or_module, args, kwargs, options)" in p.stdout
