"""fwdrev.trace: the lecture's evaluation trace -- values, tangents, adjoints and their
contributions, both tables, the DOT graph and its rendering."""
import unicodedata

import numpy as np
import pytest

import dualnum
import fwdrev
import tapes
from cases import registry_cases, sample_inputs
from fwdrev.trace import fmt
from dot_tool import need_dot


def lecture(x1, x2):
    return x1 * x2 + np.sin(x1)


def test_the_lecture_example_has_the_lectures_numbers():
    tr = fwdrev.trace(lecture, 2.0, 3.0)
    assert tr.value == lecture(2.0, 3.0)
    np.testing.assert_allclose(tr.gradient(), (np.cos(2.0) + 3.0, 2.0), rtol=1e-15)
    np.testing.assert_allclose(tr.directional(), [np.cos(2.0) + 3.0], rtol=1e-15)
    text = tr.table()
    for number in ("6.9093", "2.5839", "0.9093"):
        assert number in text
    assert fmt(lecture(2.0, 3.0)) == "6.9093"
    # the two paths from x1 add: its adjoint is the sum of two contributions
    x1 = tr.steps[0]
    assert len(x1.contributions) == 2
    assert "x̄1 = v̄1·x2 + v̄2·cos(x1)" in text


def test_forward_and_reverse_rows_follow_the_lecture_order():
    tr = fwdrev.trace(lecture, 2.0, 3.0)
    fwd = tr.forward_rows()
    assert [r[0] for r in fwd] == ["x1", "x2", "v1", "v2", "v3"]
    assert fwd[2][1] == "x1 · x2" and fwd[3][1] == "sin(x1)" and fwd[4][1] == "v1 + v2"
    rev = tr.reverse_rows()
    assert [r[0] for r in rev] == ["v3", "v2", "v1", "x2", "x1"]


def test_second_seed_gives_the_other_partial():
    tr = fwdrev.trace(lecture, 2.0, 3.0, seed=[0.0, 1.0])
    np.testing.assert_allclose(tr.directional(), [2.0])
    both = fwdrev.trace(lecture, 2.0, 3.0, seed=np.eye(2))
    np.testing.assert_allclose(both.directional(), [np.cos(2.0) + 3.0, 2.0])
    assert "2 directions" in both.table()


CASES = registry_cases()[::7]  # a spread of every kind of op, small arrays included


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_trace_agrees_with_both_engines(case):
    """The trace's sweeps are the engines' rules: its output tangent is dualnum's JVP and its
    input adjoints are tapes' VJP, on every kind of op."""
    case_id, op, fn, shapes, domains = case
    if getattr(fn, "raises", None):
        pytest.skip("an example that refuses its derivative")
    args = sample_inputs(shapes, domains, 17)
    rng = np.random.default_rng(3)
    out = fn(*args)
    w = rng.standard_normal(np.shape(out))
    sizes = [int(np.size(a)) for a in args]
    seed = rng.standard_normal(sum(sizes))
    tr = fwdrev.trace(fn, *args, seed=seed, cotangent=w, max_nodes=10_000)
    cuts = np.cumsum(sizes)[:-1]
    tangents = tuple(p.reshape(np.shape(a)) for p, a in zip(np.split(seed, cuts), args))
    _, jv = dualnum.jvp(fn, args, tangents)
    np.testing.assert_allclose(tr.directional()[0], jv, rtol=1e-12, atol=1e-12)
    _, vjp_fn = tapes.vjp(fn, *args)
    for got, want in zip(tr.gradient(), vjp_fn(w)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_every_adjoint_is_the_sum_of_its_contributions():
    def f(x):
        a = np.sin(x)
        return np.sum(a * x + a ** 2) + x[0] * a[1]
    tr = fwdrev.trace(f, np.array([0.3, -1.2, 0.7]))
    for s in tr.steps:
        if s.contributions:
            np.testing.assert_allclose(sum(v for _, _, v in s.contributions), s.adjoint,
                                       rtol=1e-14)


def test_arrays_are_summarised():
    tr = fwdrev.trace(lambda x: np.sum(np.tanh(x)), np.linspace(-1, 1, 10))
    assert "(10,) [" in tr.table()


def test_a_trace_too_large_is_refused_with_the_fix():
    def loop(x):
        for _ in range(300):
            x = 4 * x * (1 - x)
        return x
    with pytest.raises(fwdrev.TraceTooLargeError, match="max_nodes"):
        fwdrev.trace(loop, 0.3)
    assert len(fwdrev.trace(loop, 0.3, max_nodes=2000).steps) > 300


def test_a_vector_output_needs_a_cotangent():
    with pytest.raises(ValueError, match="cotangent"):
        fwdrev.trace(lambda x: x * 2, np.ones(2))
    tr = fwdrev.trace(lambda x: x * 2, np.ones(2), cotangent=np.array([1.0, -1.0]))
    np.testing.assert_allclose(tr.gradient()[0], [2.0, -2.0])


def test_markdown_table_is_a_table():
    md = fwdrev.trace(lambda x: np.abs(x) + x, -2.0).table("markdown")
    assert md.count("| node |") == 2 and "|---|" in md
    assert "\\|" in md  # the |x| of abs is escaped, not a column break
    with pytest.raises(ValueError):
        fwdrev.trace(lecture, 2.0, 3.0).table("html")


# ------------------------------------------------------------------------------ the graph
def gates(x, y, z, w):
    return 2 * (x * y + np.maximum(z, w))


def test_dot_colours_edges_by_gate_and_marks_branches():
    dot = fwdrev.trace(gates, 3.0, -4.0, 2.0, -1.0).to_dot()
    from fwdrev.notation import GATE_COLOURS
    assert dot.count(GATE_COLOURS["switches"]) >= 3  # the two inputs of x*y and the *2
    assert dot.count(GATE_COLOURS["routes"]) >= 2  # max's two inputs
    assert dot.count(GATE_COLOURS["distributes"]) >= 2  # add's two inputs
    lec = fwdrev.trace(lecture, 2.0, 3.0).to_dot()
    assert "peripheries=2" in lec  # x1 feeds two nodes: a branch
    assert lec.count('style="dashed"') == 2  # its two outgoing edges
    assert lec.count(" -> ") == 5  # x1->v1, x2->v1, x1->v2, v1->v3, v2->v3
    assert "how the adjoint flows back" in lec


def test_dot_labels_follow_show():
    tr = fwdrev.trace(lecture, 2.0, 3.0)
    assert "x̄1 = 2.5839" in tr.to_dot() and "x̄1" not in tr.to_dot(show=("primal",))
    with pytest.raises(ValueError):
        tr.to_dot(show=("nothing",))


@pytest.mark.parametrize("suffix,magic", [(".svg", b"<svg"), (".png", b"\x89PNG")])
def test_render_draws_with_graphviz(tmp_path, suffix, magic):
    need_dot()
    out = fwdrev.trace(gates, 3.0, -4.0, 2.0, -1.0).render(tmp_path / f"g{suffix}")
    assert out.suffix == suffix and magic in out.read_bytes()[:400]


def test_render_without_graphviz_writes_dot_and_says_how(tmp_path, monkeypatch, capsys):
    import graphviz

    def missing(*a, **k):
        raise graphviz.ExecutableNotFound(["dot"])
    monkeypatch.setattr(graphviz.Source, "pipe", missing)
    out = fwdrev.trace(lecture, 2.0, 3.0).render(tmp_path / "g.svg")
    assert out.suffix == ".dot" and out.read_text().startswith("digraph")
    assert f"dot -Tsvg {out}" in capsys.readouterr().out


def test_render_refuses_an_unknown_format(tmp_path):
    with pytest.raises(ValueError, match=".svg"):
        fwdrev.trace(lecture, 2.0, 3.0).render(tmp_path / "g.jpg")


def test_notation_brackets_compound_partials_and_names_inputs():
    tr = fwdrev.trace(lambda x: np.tanh(x) / (1 + x) - np.cos(x), 0.5)
    text = _nfd(tr.table())
    assert _nfd("ẋ1·(1 - v1²)") in text  # a compound partial is bracketed
    assert "·-" not in text and "+ -" not in text  # a subtraction reads as one
    assert _nfd("seed ẋ1 = 1") in text  # one input: its own name
    named = _nfd(fwdrev.trace(gates, 3.0, -4.0, 2.0, -1.0, names="xyzw").table())
    assert "v1 = x · y" in named and _nfd("x̄ = v̄1·y") in named
    with pytest.raises(ValueError, match="names"):
        fwdrev.trace(lecture, 2.0, 3.0, names=["a"])


def _nfd(text):
    """Combining marks written one way (the tables put a combining dot or bar after a letter;
    an editor may store the precomposed character)."""
    return unicodedata.normalize("NFD", text)


def test_values_never_print_minus_zero():
    tr = fwdrev.trace(lambda x: np.sum(np.sin(x) * 0.0 - x * 0.0), np.array([-1.0, 0.0, 2.0]))
    assert "-0" not in tr.table().replace("-0.", "")


def test_linear_ops_read_as_the_op_on_tangents_and_its_transpose_on_adjoints():
    text = fwdrev.trace(lambda x: np.sum(np.sin(x) @ np.ones((3, 2))), np.arange(3.0)).table()
    text = _nfd(text)
    assert _nfd("Σ v̇2") in text and _nfd("broadcast(v̄3)") in text and "@ const(3, 2)ᵀ" in text


def test_rankdir():
    tr = fwdrev.trace(lecture, 2.0, 3.0)
    assert "rankdir=TB" in tr.to_dot(rankdir="TB")
    with pytest.raises(ValueError):
        tr.to_dot(rankdir="sideways")


def test_trace_follows_structural_zeros_and_takes_complex_seeds():
    f = lambda x: np.sum(np.where(x > 0, np.sqrt(x), 0.0))  # noqa: E731
    x = np.array([0.0, 4.0])
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(fwdrev.trace(f, x).gradient()[0], tapes.grad(f)(x))
    tr = fwdrev.trace(lambda z: np.abs(z) ** 2, 3 + 4j, seed=np.array([1j]))
    np.testing.assert_allclose(tr.directional(), [8.0])  # d|z|^2 along i: 2 Im z
