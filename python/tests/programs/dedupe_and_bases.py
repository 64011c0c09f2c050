"""Duplicated inputs (dedupe) and aliased inputs (synthetic bases, overlap)."""

import torch

NO_EXPORT = {"export": ()}  # export refuses mutated duplicated/aliased inputs


def dup_no_mutation():
    def f(a, b):
        return a * b

    x = torch.randn(3)
    return f, (x, x)


def dup_mutated():
    def f(a, b):
        a.add_(1)
        return a + b

    x = torch.randn(3)
    return f, (x, x), {}, NO_EXPORT


def dup_three_times():
    def f(a, b, c, d):
        c.mul_(2)
        return a + b + d

    x, y = torch.randn(2), torch.randn(2)
    return f, (x, y, x, x), {}, NO_EXPORT


def dup_requires_grad():
    def f(a, b):
        return a * b, a.view(-1)

    x = torch.randn(2, 2, requires_grad=True)
    return f, (x, x)


def rows_of_one_base_mutated():
    def f(a, b):
        a.mul_(2)
        return a + b

    base = torch.randn(2, 3)
    return f, (base[0], base[1]), {}, NO_EXPORT


def overlapping_columns_mutated():
    def f(a, b):
        a.add_(1)
        return a * b

    base = torch.randn(3, 6)
    return f, (base[:, :4], base[:, 1:5]), {}, NO_EXPORT


def input_and_its_view_mutated():
    def f(a, b):
        b.mul_(3)
        return a.sum() + b.sum()

    x = torch.randn(2, 4)
    return f, (x, x.view(-1)), {}, NO_EXPORT


def overlapping_train_same_base():
    def f(a, b):
        a.mul_(2)
        return a + b

    base = torch.randn(4, 4, requires_grad=True) * 1
    return f, (base[:, :3], base[:, 1:]), {}, NO_EXPORT


def aliased_metadata_mutation():
    def f(a, b):
        a.add_(2)
        b.t_()
        return a * 1

    base = torch.randn(5, 5)
    return f, (base[:, :3], base[:, 1:4]), {}, NO_EXPORT


def overlapping_no_mutation():
    def f(a, b):
        return a + b

    base = torch.randn(3, 6)
    return f, (base[:, :4], base[:, 2:])


def disjoint_slices_no_mutation():
    def f(a, b):
        return a.sum() + b.sum()

    base = torch.randn(8)
    return f, (base[:4], base[4:])


def set_built_aliases_mutated():
    def f(a, b):
        a.add_(1)
        return a + b

    storage = torch.randn(10).untyped_storage()
    a = torch.empty(0).set_(storage, 0, (6,), (1,))
    b = torch.empty(0).set_(storage, 3, (6,), (1,))
    return f, (a, b), {}, NO_EXPORT


def synthetic_base_beside_symint():
    # The SymInt stays in place among the inner arguments, after the base.
    def f(a, b, n):
        a.mul_(2)
        return a + n, b * n

    base = torch.zeros(10)
    return f, (base[0:6], base[2:8], 3), {}, {**NO_EXPORT, "dynamic": True}
