"""``fwdrev explain``: the lecture's tables with the right numbers for every built-in example
and for a user's file, Markdown, the graph picture, and every bad input as one line on
stderr with exit status 2.

Expected numbers are computed here independently (closed forms, NumPy), never copied from
the tool's output."""
import os
import re
import unicodedata

import numpy as np
import pytest

from bench.cli import main
from dot_tool import need_dot


def run(capsys, *argv):
    """``fwdrev explain ARGV`` -> (status, stdout, stderr), in Unicode's decomposed form (ẋ
    is x and a combining dot, however a string spells it: compare the letters shown)."""
    status = main(["explain", *argv])
    out, err = capsys.readouterr()
    return status, unicodedata.normalize("NFD", out), unicodedata.normalize("NFD", err)


def g(x):
    """A number as the tables print it (5 significant digits)."""
    return f"{x:.5g}"


def has_row(out, *cells):
    """A line of ``out`` holding ``cells`` in order, separated by column padding."""
    pattern = r"\s+".join(re.escape(c) for c in cells)
    return any(re.search(pattern, line) for line in out.splitlines())


# ------------------------------------------------------------------ the lecture's examples
def test_lecture_shows_the_lectures_numbers(capsys):
    status, out, err = run(capsys, "--problem", "lecture")
    assert status == 0 and err == ""
    x1, x2 = 2.0, 3.0
    f = x1 * x2 + np.sin(x1)
    d1, d2 = np.cos(x1) + x2, x1
    assert (g(f), g(d1), g(d2)) == ("6.9093", "2.5839", "2")
    assert f"f = v3 = {g(f)}" in out
    assert f"∂f/∂x1 = x̄1 = {g(d1)}" in out
    assert f"∂f/∂x2 = x̄2 = {g(d2)}" in out
    assert f"by hand: cos(x1) + x2 = {g(d1)}" in out
    # forward sweep: primal and tangent of every node, in the lecture's order
    assert has_row(out, "v2", "v2 = sin(x1)", g(np.sin(x1)), "v̇2 = ẋ1·cos(x1)",
                   g(np.cos(x1)))
    assert f"ḟ = v̇3 = {g(d1)} = ∂f/∂x1" in out
    # reverse sweep: x1's adjoint is the sum of its two paths' contributions
    assert "x̄1 = v̄1·x2 + v̄2·cos(x1)" in out
    lines = out.splitlines()
    assert lines.index(next(l for l in lines if l.startswith("Forward sweep"))) < \
        lines.index(next(l for l in lines if l.startswith("Reverse sweep")))


def test_a_second_seed_gives_the_other_partial(capsys):
    for seed in ("x2", "0,1"):
        status, out, _ = run(capsys, "--problem", "lecture", "--seed", seed)
        assert status == 0
        assert "seed ẋ = (0, 1)" in out
        assert f"ḟ = v̇3 = {g(2.0)} = ∂f/∂x2" in out
    status, out, _ = run(capsys, "--problem", "lecture", "--seed", "1,1")
    assert f"ḟ = v̇3 = {g(np.cos(2.0) + 3.0 + 2.0)} = ∇f·ẋ" in out


def test_lecture_at_another_point_negative_values_included(capsys):
    status, out, _ = run(capsys, "--problem", "lecture", "--at", "-1.5,0.25")
    assert status == 0
    x1, x2 = -1.5, 0.25
    assert f"f = v3 = {g(x1 * x2 + np.sin(x1))}" in out
    assert f"∂f/∂x1 = x̄1 = {g(np.cos(x1) + x2)}" in out


def test_homework_gradient_is_the_hand_derived_one(capsys):
    status, out, _ = run(capsys, "--problem", "homework")
    assert status == 0
    x = np.array([1.5, 2.0, 3.0, 2.0, -0.5, -0.5])     # the example's documented point
    assert "at x1 = 1.5, x2 = 2, x3 = 3, x4 = 2, x5 = -0.5, x6 = -0.5" in out
    big = max(x[0], x[1])
    u = 5 * (big * x[2] / x[3] - (x[4] + x[5]))
    f = u / (1 + u) + 0.5                 # sigmoid(log u) = u / (1 + u)
    du = np.zeros(6)
    du[int(x[1] > x[0])] = 5 * x[2] / x[3]
    du[2], du[3] = 5 * big / x[3], -5 * big * x[2] / x[3] ** 2
    du[4] = du[5] = -5
    grad = du / (1 + u) ** 2
    assert f"f = v9 = {g(f)}" in out
    for i, gi in enumerate(grad):
        assert f"∂f/∂x{i + 1} = x̄{i + 1} = {g(gi)}" in out
    assert "x̄1 = v̄1·[x1 ≥ x2]" in out      # max routes: x1 lost, its adjoint is 0


def test_gates_show_the_gate_patterns(capsys):
    status, out, _ = run(capsys, "--problem", "gates")
    assert status == 0
    x, y, z, w = 3.0, -4.0, 2.0, -1.0
    assert f"f = v4 = {g(2 * (x * y + max(z, w)))}" in out
    for i, expected in enumerate((2 * y, 2 * x, 2.0 * (z >= w), 2.0 * (w >= z))):
        assert f"∂f/∂x{i + 1} = x̄{i + 1} = {g(expected)}" in out


@pytest.mark.parametrize("depth, x", [(4, None), (2, 0.7), (6, 0.2)])
def test_logistic_map_at_depth(depth, x, capsys):
    argv = ["--problem", "logistic-map", "--depth", str(depth)]
    if x is not None:
        argv += ["--at", str(x)]
    status, out, _ = run(capsys, *argv)
    assert status == 0
    x = 0.3 if x is None else x
    v, dv = x, 1.0
    for _ in range(depth - 1):          # l1 = x, l(k+1) = 4 l_k (1 - l_k): (v, v') pairs
        v, dv = 4 * v * (1 - v), 4 * dv - 8 * v * dv
    assert f"∂f/∂x1 = x̄1 = {g(dv)}" in out
    assert f"= {g(v)}" in out
    assert f"l{depth}" in out
    if depth == 4:   # the lecture's closed form and its hand derivative
        closed = 64 * x * (1 - x) * (1 - 2 * x) ** 2 * (1 - 8 * x + 8 * x ** 2) ** 2
        assert g(closed) == g(v) and "64x(1−x)(1−2x)²(1−8x+8x²)²" in out
        assert out.count(g(dv)) >= 2     # AD's value and the hand derivative's


def test_markdown_output(capsys):
    status, out, _ = run(capsys, "--problem", "lecture", "--format", "markdown")
    assert status == 0
    assert out.startswith("## f(x1, x2) = x1·x2 + sin(x1)")
    assert out.count("| node |") == 2 and sum(l.startswith("|---|") for l in out.splitlines()) == 2
    assert f"| v3 | v3 = v1 + v2 | {g(2 * 3 + np.sin(2.0))} |" in out
    assert f"- ∂f/∂x1 = x̄1 = {g(np.cos(2.0) + 3)}" in out


def test_output_file(tmp_path, capsys):
    path = tmp_path / "lecture.md"
    status, out, _ = run(capsys, "--problem", "lecture", "--format", "markdown",
                         "--output", str(path))
    assert status == 0 and out.strip() == f"wrote {path}"
    assert "| node |" in path.read_text(encoding="utf-8")


# ------------------------------------------------------------------ the graph
@pytest.mark.parametrize("suffix, magic", [("svg", b"<svg"), ("png", b"\x89PNG")])
def test_graph_picture(suffix, magic, tmp_path, capsys):
    need_dot()
    path = tmp_path / f"gates.{suffix}"
    status, out, _ = run(capsys, "--problem", "gates", "--graph", str(path))
    assert status == 0 and f"wrote {path}" in out
    data = path.read_bytes()
    assert magic in data[:400] and len(data) > 1000
    if suffix == "svg":
        assert "max(x3, x4)" in data.decode()


def test_graph_as_dot_needs_no_graphviz(tmp_path, capsys):
    path = tmp_path / "lecture.dot"
    status, _, _ = run(capsys, "--problem", "lecture", "--graph", str(path))
    assert status == 0
    dot = path.read_text(encoding="utf-8")
    assert dot.startswith("digraph") and dot.count(" -> ") == 5


# ------------------------------------------------------------------ a user's file
USER = '''
import numpy as np

def f(x, y):
    return np.exp(x) * y + x

def loss(w):
    return np.sum(np.tanh(w) ** 2)

def scaled(x, c=2.0):
    return c * np.sin(x)

def double(v):
    return 2.0 * v

def fails(x):
    raise RuntimeError("the user's function failed\\non two lines")

def loop(x):
    for _ in range(400):
        x = np.sin(x)
    return x

def constant(x):
    return 3.0

NOT_A_FUNCTION = 3
'''


@pytest.fixture
def user_file(tmp_path):
    path = tmp_path / "user_f.py"
    path.write_text(USER)
    return path


def test_user_function_of_scalars(user_file, capsys):
    status, out, _ = run(capsys, f"{user_file}:f", "--at", "0.5,1.0")
    assert status == 0
    assert f"f = v3 = {g(np.exp(0.5) + 0.5)}" in out
    assert f"∂f/∂x1 = x̄1 = {g(np.exp(0.5) + 1)}" in out
    assert f"∂f/∂x2 = x̄2 = {g(np.exp(0.5))}" in out
    status, out, _ = run(capsys, f"{user_file}:scaled", "--at", "0.5")   # default kept
    assert status == 0 and f"∂f/∂x1 = x̄1 = {g(2 * np.cos(0.5))}" in out


def test_user_function_of_an_array(user_file, capsys):
    w = np.array([0.5, 1.0, -2.0])
    status, out, _ = run(capsys, f"{user_file}:loss", "--at", "[0.5,1.0,-2.0]")
    assert status == 0
    grad = 2 * np.tanh(w) * (1 - np.tanh(w) ** 2)
    assert f"f = v3 = {g(np.sum(np.tanh(w) ** 2))}" in out
    assert "(3,) [" + ", ".join(g(v) for v in grad) + "]" in out


def test_user_function_with_an_array_output_and_a_cotangent(user_file, capsys):
    status, out, _ = run(capsys, f"{user_file}:double", "--at", "[1,-2]",
                         "--cotangent", "[1,-1]")
    assert status == 0 and "(w·J)_x1 = x̄1 = (2,) [2, -2]" in out


# ------------------------------------------------------------------ bad input
BAD = [
    (["{dir}/no_such_file.py:f", "--at", "1"], "no such file"),
    (["{file}:nope", "--at", "1"], "has no function 'nope' (it defines: "),
    (["{file}:NOT_A_FUNCTION", "--at", "1"], "is not a function"),
    (["{file}", "--at", "1"], "expected FILE.py:FUNCTION"),
    (["{file}:f", "--at", "1"], "takes 2 arguments (x, y), --at gives 1"),
    (["{file}:f", "--at", "1,2,3"], "--at gives 3"),
    (["{file}:f"], "give the point with --at"),
    (["{file}:f", "--at", "1,abc"], "'abc' is not a number"),
    (["{file}:f", "--at", "1,,2"], "empty item"),
    (["{file}:f", "--at", "1,inf"], "not a finite number"),
    (["{file}:loss", "--at", "[1,'a']"], "not a number"),
    (["{file}:loss", "--at", "[1,[2]]"], "not a rectangular array"),
    (["{file}:loss", "--at", "[1,2"], "unbalanced"),
    (["{file}:fails", "--at", "1"], "RuntimeError: the user's function failed on two lines"),
    (["{file}:loop", "--at", "1"], "records 401 nodes, more than --max-nodes 200"),
    (["{file}:constant", "--at", "1"], "does not depend on the inputs"),
    (["{file}:double", "--at", "[1,2]"], "give --cotangent"),
    (["{dir}/broken.py:f", "--at", "1"], "cannot import"),
    (["--problem", "logistic-map", "--depth", "100"], "use a smaller --depth"),
    (["--problem", "lecture", "--at", "1"], "lecture takes 2 values, 1 given"),
    (["--problem", "lecture", "--at", "1,x"], "'x' is not a number"),
    (["--problem", "lecture", "--seed", "1,0,0"], "one number per entry"),
    (["--problem", "lecture", "--seed", "x3"], "inputs x1 .. x2"),
    (["--problem", "lecture", "--depth", "3"], "--depth applies to --problem logistic-map"),
    (["--problem", "nope"], "invalid choice"),
    (["--problem", "lecture", "--format", "html"], "invalid choice"),
    (["--problem", "logistic-map", "--depth", "0"], "not a positive integer"),
    ([], "nothing to trace"),
    (["{file}:f", "--problem", "lecture"], "not both"),
    (["--problem", "lecture", "--graph", "{dir}/g.jpg"], "use a file ending in .svg"),
    (["--problem", "lecture", "--graph", "{dir}/no/g.svg"], "does not exist"),
    (["--problem", "lecture", "--output", "{dir}/no/t.txt"], "does not exist"),
    (["--problem", "lecture", "--output", "{dir}"], "is a directory"),
]


@pytest.mark.parametrize("argv, message", BAD, ids=[m for _, m in BAD])
def test_bad_input_is_one_line_and_exit_2(argv, message, user_file, capsys):
    folder = user_file.parent
    (folder / "broken.py").write_text("raise ImportError('a broken module')\n")
    before = sorted(os.listdir(folder))
    argv = [a.format(file=user_file, dir=folder) for a in argv]
    status, out, err = run(capsys, *argv)
    assert status == 2
    assert message in err, err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("fwdrev explain: error: ")
    assert "Traceback" not in err and out == ""
    assert sorted(os.listdir(folder)) == before          # nothing written


def test_help(capsys):
    assert main(["explain", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--problem" in out and "fwdrev explain --problem lecture" in out
