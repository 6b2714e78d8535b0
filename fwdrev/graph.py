"""The computational graph of a :class:`fwdrev.Trace`, in Graphviz's DOT language.

Nodes: inputs as ellipses, ops as boxes labelled with their definition and values (primal;
tangent and adjoint when asked), constants as plain text. Edges run in evaluation order
(input -> consumer) and are coloured by how the consumer's gate passes the adjoint back
(the lecture's patterns): an add *distributes* it unchanged, a max *routes* it to one
input, a multiply *switches* (each input gets it times the other), any other op *scales*
it by its local derivative. A value read by several nodes is a *branch*: its node is drawn
with a double border and the adjoints of its outgoing edges add there.

Rendering uses the ``graphviz`` Python package, which calls Graphviz's ``dot`` program;
without it, :func:`render` writes the DOT file and prints the command that draws it.
"""
from __future__ import annotations

from pathlib import Path

from . import notation
from .trace import _bar, _dot, fmt

LEGEND = [("distributes (add)", "distributes"), ("routes (max)", "routes"),
          ("switches (multiply)", "switches"), ("scales (other ops)", "scales")]


def _quote(text: str) -> str:
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _label(tr, i, step, show):
    lines = [step.name if step.op == "input" else f"{step.name} = {step.expression}"]
    if "primal" in show:
        lines.append(f"value {fmt(step.primal)}")
    if "tangent" in show and step.tangent is not None:
        lines.append(f"{_dot(step.name)} = {tr._tangent_text(step)}")
    if "adjoint" in show and step.adjoint is not None:
        lines.append(f"{_bar(step.name)} = {fmt(step.adjoint)}")
    return "\\n".join(line.replace("\\", "\\\\").replace('"', '\\"') for line in lines)


def to_dot(tr, show=("primal", "tangent", "adjoint"), rankdir="LR") -> str:
    """DOT source of the graph of ``tr``; ``show``: which values the node labels carry;
    ``rankdir``: "LR" or "TB"."""
    if rankdir not in ("LR", "TB", "RL", "BT"):
        raise ValueError(f"rankdir must be LR, TB, RL or BT, not {rankdir!r}")
    unknown = set(show) - {"primal", "tangent", "adjoint"}
    if unknown:
        raise ValueError(f"show: unknown values {sorted(unknown)} (primal, tangent, adjoint)")
    out = ["digraph trace {", f"  rankdir={rankdir};",
           '  node [fontname="Helvetica", fontsize=11];', '  edge [fontname="Helvetica", fontsize=9];']
    for i, s in enumerate(tr.steps):
        shape = "ellipse" if s.op == "input" else "box"
        branch = len(s.consumers) > 1
        attrs = [f"shape={shape}", f'label="{_label(tr, i, s, show)}"']
        if branch:
            attrs.append("peripheries=2")
        if i == tr.output:
            attrs.append('style="bold"')
        out.append(f"  n{i} [{', '.join(attrs)}];")
    consts = 0
    for i, s in enumerate(tr.steps):
        if s.op == "input":
            continue
        colour = notation.GATE_COLOURS[s.gate]
        for j, p in enumerate(s.parents):
            part = notation.partial(s.op, j, s.inputs, s.name)
            if p < 0:
                consts += 1
                out.append(f"  c{consts} [shape=plaintext, label={_quote(s.inputs[j])}];")
                out.append(f'  c{consts} -> n{i} [color="#bbbbbb"];')
                continue
            branch = len(tr.steps[p].consumers) > 1
            style = ', style="dashed"' if branch else ""
            label = part
            if "adjoint" in show:  # the adjoint this edge carries back: v̄_i times the partial
                back = [v for c, _, v in tr.steps[p].contributions if c == i]
                if back:
                    label += f"\n← {fmt(back[0], 4)}"
            out.append(f'  n{p} -> n{i} [color="{colour}", label={_quote(label)}{style}];')
    rows = "".join(f'<tr><td align="left"><font color="{notation.GATE_COLOURS[key]}">'
                   f"&#9473;&#9473;</font> {text}</td></tr>" for text, key in LEGEND)
    rows += '<tr><td align="left">- - - into a branch (double border): adjoints add</td></tr>'
    out.append('  legend [shape=plaintext, fontsize=9, label=<<table border="0" cellspacing="0">'
               '<tr><td align="left"><b>how the adjoint flows back</b></td></tr>'
               f"{rows}</table>>];")
    out.append("}")
    return "\n".join(out) + "\n"


def render(tr, path, show=("primal", "tangent", "adjoint"), rankdir="LR") -> Path:
    """Draw ``tr`` to ``path`` (.svg or .png) with Graphviz; without Graphviz's ``dot``
    program (or the ``graphviz`` package), write the DOT source next to it and print the
    command that renders it. Returns the path written."""
    path = Path(path)
    fmt_ = path.suffix.lstrip(".").lower() or "svg"
    if fmt_ not in ("svg", "png", "pdf", "dot"):
        raise ValueError(f"render: {path.name}: use a .svg, .png, .pdf or .dot file")
    source = to_dot(tr, show, rankdir)
    dot_path = path.with_suffix(".dot")
    if fmt_ == "dot":
        dot_path.write_text(source)
        return dot_path
    try:
        import graphviz
        data = graphviz.Source(source).pipe(format=fmt_)
    except Exception as e:  # the package or the dot program is missing, or dot failed
        if e.__class__.__name__ not in ("ExecutableNotFound", "ModuleNotFoundError"):
            raise
        dot_path.write_text(source)
        print(f"Graphviz's dot program is not installed: wrote {dot_path}; render it with\n"
              f"  dot -T{fmt_} {dot_path} -o {path}\n"
              "(install Graphviz: apt-get install graphviz, brew install graphviz, or "
              "https://graphviz.org/download/)")
        return dot_path
    path.write_bytes(data)
    return path
