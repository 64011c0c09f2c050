"""nn.Modules: parameters and buffers lifted first, buffer updates."""

import torch
from torch import nn

JOINT = {"export": ("inference", "joint")}


def linear():
    return nn.Linear(4, 2), (torch.randn(3, 4),), {}, JOINT


def mlp_gelu_layernorm():
    m = nn.Sequential(nn.Linear(4, 8), nn.GELU(), nn.LayerNorm(8), nn.Linear(8, 2))
    return m, (torch.randn(5, 4),), {}, JOINT


def batchnorm_train():
    m = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    return m, (torch.randn(6, 3),), {}, JOINT


def batchnorm_eval():
    m = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4)).eval()
    return m, (torch.randn(6, 3),), {}, JOINT


def conv_relu():
    m = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.ReLU())
    return m, (torch.randn(1, 2, 5, 5),), {}, JOINT


def embedding_bag_of_tokens():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(10, 4)
            self.out = nn.Linear(4, 1)

        def forward(self, tokens):
            return self.out(self.emb(tokens).mean(1))

    return M(), (torch.tensor([[1, 2, 3], [4, 5, 6]]),), {}, JOINT


def step_counter_buffer():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.randn(3))
            self.register_buffer("steps", torch.zeros((), dtype=torch.int64))

        def forward(self, x):
            self.steps.add_(1)
            return (x * self.w).sum()

    return M(), (torch.randn(3),), {}, JOINT


def inplace_relu_sequential():
    m = nn.Sequential(nn.Linear(3, 5), nn.ReLU(inplace=True), nn.Linear(5, 1))
    return m, (torch.randn(2, 3),), {}, JOINT


def dropout_eval():
    m = nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.5)).eval()
    return m, (torch.randn(2, 3),), {}, JOINT


def kwargs_forward():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 3)

        def forward(self, x, *, scale, bias=None):
            y = self.fc(x) * scale
            return y if bias is None else y + bias

    return M(), (torch.randn(2, 3),), {"scale": 2.0, "bias": torch.randn(3)}, JOINT


def frozen_parameter():
    m = nn.Linear(3, 2)
    m.bias.requires_grad_(False)
    return m, (torch.randn(4, 3),), {}, JOINT


def transformer_block():
    class Block(nn.Module):
        def __init__(self, d=8, heads=2):
            super().__init__()
            self.heads = heads
            self.ln1 = nn.LayerNorm(d)
            self.qkv = nn.Linear(d, 3 * d)
            self.proj = nn.Linear(d, d)
            self.ln2 = nn.LayerNorm(d)
            self.fc1 = nn.Linear(d, 2 * d)
            self.fc2 = nn.Linear(2 * d, d)

        def forward(self, x):
            b, t, d = x.shape
            q, k, v = self.qkv(self.ln1(x)).split(d, dim=-1)
            q = q.view(b, t, self.heads, -1).transpose(1, 2)
            k = k.view(b, t, self.heads, -1).transpose(1, 2)
            v = v.view(b, t, self.heads, -1).transpose(1, 2)
            att = (q @ k.transpose(-2, -1)).softmax(-1)
            y = (att @ v).transpose(1, 2).reshape(b, t, d)
            x = x + self.proj(y)
            return x + self.fc2(torch.nn.functional.gelu(self.fc1(self.ln2(x))))

    return Block(), (torch.randn(2, 4, 8),), {}, JOINT


def multihead_attention():
    x = torch.randn(2, 5, 8)
    return nn.MultiheadAttention(8, 2, batch_first=True), (x, x, x), {}, JOINT


def transformer_encoder_layer():
    layer = nn.TransformerEncoderLayer(8, 2, 16, batch_first=True, dropout=0.0)
    return layer, (torch.randn(2, 5, 8),), {}, JOINT


def lstm():
    return nn.LSTM(4, 6, batch_first=True), (torch.randn(2, 3, 4),), {}, JOINT


def gru():
    return nn.GRU(4, 6), (torch.randn(3, 2, 4),), {}, JOINT


def group_norm():
    return nn.GroupNorm(2, 4), (torch.randn(2, 4, 3),), {}, JOINT


def conv_batchnorm2d_train():
    m = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    return m, (torch.randn(2, 3, 6, 6),), {}, JOINT


def embedding_bag():
    return nn.EmbeddingBag(10, 4, mode="mean"), (torch.tensor([[1, 2], [3, 4]]),), {}, JOINT


def method_of_module():
    class Stepper(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 2)
            self.register_buffer("calls", torch.zeros((), dtype=torch.int64))

        def step(self, x):
            self.calls.add_(1)
            return self.fc(x).relu()

    return Stepper().step, (torch.randn(4, 3),), {}, JOINT
