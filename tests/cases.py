"""Test cases generated from the adcore registry: every op, several shapes each.

Elementwise ops get scalar, vector, matrix and broadcasting shapes by arity; structural
ops contribute the example calls registered with them. Adding an op to the registry adds
its cases here with no other change.
"""
import functools

import numpy as np

import adcore
from adcore import ELEMENTWISE, apply

ELEMENTWISE_SHAPES = {
    1: [((),), ((5,),), ((3, 4),)],
    2: [((), ()), ((5,), (5,)), ((3, 4), (3, 4)), ((3, 4), (1, 4)), ((3, 4), ()),
        ((2, 3, 4), (4,)), ((1, 4), (3, 1))],
    3: [((3, 4),) * 3, ((3, 4), (), (4,))],
}


def _call(op):
    if isinstance(op.primal, np.ufunc):  # through NumPy's own entry point: tests dispatch too
        return op.primal
    return lambda *xs: apply(op, *xs)


def registry_cases():
    """[(case id, op, fn, shapes, domains)] for every registered op."""
    cases = []
    for name, op in sorted(adcore.registered_ops().items()):
        if op.kind == ELEMENTWISE:
            for shapes in ELEMENTWISE_SHAPES[op.nargs]:
                domains = tuple(op.domain(i) for i in range(op.nargs))
                cases.append((f"{name}{list(shapes)}", op, _call(op), shapes, domains))
        else:
            assert op.examples, f"structural op {name} registers no example calls to test"
            for ex in op.examples:
                domains = ex.domains or tuple(op.domain(i) for i in range(len(ex.shapes)))
                cases.append((f"{name}[{ex.label or list(ex.shapes)}]", op, _refusing(ex),
                              ex.shapes, domains))
    for name, comp in sorted(adcore.registered_composites().items()):
        for ex in comp.examples:  # composites: tested like ops, from their example calls
            domains = ex.domains or (adcore.REAL,) * len(ex.shapes)
            cases.append((f"np.{name}[{ex.label or list(ex.shapes)}]", comp, _refusing(ex),
                          ex.shapes, domains))
    return cases


def _refusing(ex):
    """``ex.fn``; an example that must refuse its derivative is marked with ``raises`` (the
    generated tests then check that both modes raise it)."""
    fn = ex.fn
    if ex.raises is not None:
        fn = functools.wraps(ex.fn)(lambda *a: ex.fn(*a))
        fn.raises = ex.raises
    return fn


def sample_inputs(shapes, domains, seed):
    rng = np.random.default_rng(seed)
    return tuple(d.sample(rng, s) for s, d in zip(shapes, domains))
