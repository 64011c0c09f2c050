"""aotio.trace + analyze of a 4-block transformer vs PyTorch's own metadata collection.

Run: ``pytest python/benchmarks/bench_trace.py --benchmark-only``. Both
benchmarks use the same module and input in the same run: the baseline is
``create_aot_state`` (``run_functionalized_fw_and_collect_metadata`` and the
needs_autograd decision) on fake inputs, what AOTAutograd spends before it
traces the real graph; aotio's side traces the module into a dump (fake
tensors, pre-dispatch make_fx) and runs the whole analysis on it; a third
benchmark times the analysis alone on the dump traced once.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

import aotio
from aotio.compare import pytorch_metadata
from aotio.tracing import trace


class Block(nn.Module):
    def __init__(self, d: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d)
        self.fc1 = nn.Linear(d, 4 * d)
        self.fc2 = nn.Linear(4 * d, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(d, dim=-1)
        q, k, v = (z.view(b, t, self.heads, -1).transpose(1, 2) for z in (q, k, v))
        att = (q @ k.transpose(-2, -1) / (d // self.heads) ** 0.5).softmax(-1)
        y = (att @ v).transpose(1, 2).reshape(b, t, d)
        x = x + self.proj(y)
        return x + self.fc2(nn.functional.gelu(self.fc1(self.ln2(x))))


class Transformer(nn.Module):
    def __init__(self, d: int = 64, heads: int = 4, blocks: int = 4, vocab: int = 100) -> None:
        super().__init__()
        self.emb = nn.Embedding(vocab, d)
        self.blocks = nn.ModuleList(Block(d, heads) for _ in range(blocks))
        self.ln = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.emb(tokens)
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln(x))


@pytest.fixture(scope="module")
def program():
    torch.manual_seed(0)
    return Transformer(), (torch.randint(0, 100, (2, 16)),)


def test_aotio_trace_and_analyze(benchmark, program):
    module, args = program
    report = benchmark(lambda: aotio.analyze(trace(module, args)))
    assert report.to_dict()["needs_autograd"] is True


def test_pytorch_collect_metadata(benchmark, program):
    module, args = program
    meta = benchmark(lambda: pytorch_metadata(module, args))
    assert len(meta.output_info) == 1


def test_aotio_analyze_traced(benchmark, program):
    # The analysis alone, on the dump of the same module traced once.
    module, args = program
    graph = trace(module, args)
    report = benchmark(lambda: aotio.analyze(graph))
    assert report.to_dict()["needs_autograd"] is True
