"""The computational graph (``diagram --graph``): it compiles without overfull boxes, and its edge
labels are the local derivatives, checked three ways.

- Each label, read back from the LaTeX (``printed.parse_printed``), equals ``sympy.diff`` of the
  operation of the node the edge enters by the variable it leaves, recomputed here, at random
  numbers where a = f(z) holds.
- Scalar graph: the labels multiplied along every path from a parameter to the loss, summed over
  the paths, equal the derivation's gradient of that parameter (``closed_forms``: the delta
  rule, written out) at random numbers.
- Layer graph: the labels, evaluated entry by entry as Jacobians and chained from the loss back
  to each W and b, equal the derivation's gradients.
"""

from __future__ import annotations

import io
import itertools
import random
import re
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
from conftest import ROOT, make_spec
from printed import parse_printed
from test_diagram import compile_tex, needs_tikz
from test_printed import CE342, LEAKS, OWN

from symbackprop.cli.commands import main
from symbackprop.errors import SymbackpropError
from symbackprop.pipeline import derivation_of
from symbackprop.render.document import MARKER
from symbackprop.render.graph import (
    MAX_LAYER_DEPTH,
    MAX_WIDTH,
    Graph,
    graph_caption,
    graph_kind,
    graph_layout,
    scalar_graph,
    scalar_limit,
)
from symbackprop.render.printing import NOTATIONS, BackpropLatexPrinter
from symbackprop.run.documents import diagram_for
from symbackprop.spec.model import load_spec
from symbackprop.symbolic.expansion import (
    Scalars,
    all_params,
    closed_forms,
    forward_values,
    param_symbol,
)
from symbackprop.symbolic.network import ActivationFunction, ActivationPrime, j, p, q
from symbackprop.util.fileio import unstamp_text

MAZUR = load_spec(ROOT / "tests" / "fixtures" / "mazur.toml")
DEEP = make_spec([4, 5, 4, 3], "softmax", "cross_entropy", ["relu", "tanh"], "deep")
"""A network too large for the scalar graph (its layer graph: ReLU, tanh, softmax)."""
SPECS = {"xor": load_spec("xor"), "digits": load_spec("digits"), "mazur": MAZUR, "ce342": CE342}


# -- it compiles -------------------------------------------------------------------------------


def _compiles_cleanly(tex: str, folder: Path) -> None:
    log = compile_tex(tex, folder)
    assert "Overfull \\hbox" not in log and "Overfull \\vbox" not in log


@needs_tikz
@pytest.mark.parametrize(
    ("spec", "notation"), [("xor", "default"), ("ce342", "goodfellow"), ("digits", "nielsen")]
)
def test_graphs_compile_without_overfull_boxes(spec: str, notation: str, tmp_path: Path) -> None:
    """The scalar graph of xor (the first page a reader sees), a softmax/cross-entropy scalar
    graph and digits' layer graph; every spec in every notation under -m slow."""
    tex = diagram_for(SPECS[spec], graph="auto", notation=notation)
    assert tex.startswith(MARKER)
    _compiles_cleanly(tex, tmp_path)


@pytest.mark.slow
@needs_tikz
@pytest.mark.parametrize("notation", sorted(NOTATIONS))
@pytest.mark.parametrize("spec", [*SPECS, "own", "deep", "ce342-layer", "xor-layer"])
def test_every_graph_compiles_in_every_notation(spec: str, notation: str, tmp_path: Path) -> None:
    name, _, kind = spec.partition("-")
    chosen = {"own": OWN, "deep": DEEP}.get(name) or SPECS[name]
    tex = diagram_for(chosen, graph=kind or "auto", notation=notation, lecture=True, title="T")
    _compiles_cleanly(tex, tmp_path)


@pytest.mark.slow
@needs_tikz
def test_bare_graph_inputs_into_a_document(tmp_path: Path) -> None:
    bare = diagram_for(MAZUR, graph="auto", bare=True)
    assert bare.startswith(MARKER) and r"\documentclass" not in bare
    (tmp_path / "picture.tex").write_text(bare)
    host = (
        "\\documentclass{article}\n\\usepackage{amsmath}\n\\usepackage{tikz}\n"
        "\\begin{document}\n\\noindent\\resizebox{\\linewidth}{!}{\\input{picture}}\n\\end{document}\n"
    )
    assert "Overfull \\hbox" not in compile_tex(host, tmp_path)


# -- which graph, and the refusals ---------------------------------------------------------------


def test_the_scalar_graph_where_it_fits_else_the_layer_graph() -> None:
    assert graph_kind(SPECS["xor"]) == "scalar" and graph_kind(CE342) == "scalar"
    assert graph_kind(SPECS["digits"]) == "layer" and graph_kind(DEEP) == "layer"
    assert graph_kind(SPECS["xor"], "layer") == "layer"
    assert scalar_limit([2, 4, 1]) == "" and "16 products" in scalar_limit([3, 5, 1])
    assert "softmax of at most 3" in scalar_limit([2, 2, 4], elementwise_output=False)
    assert "at most 3 weight layers" in scalar_limit([1, 1, 1, 1, 1])


def test_a_scalar_graph_wider_than_a_page_gives_way_to_the_layer_graph() -> None:
    """OWN's Piecewise loss writes two cases on each edge into the loss: too wide for a page."""
    derivation = derivation_of(OWN)
    wide = scalar_graph(derivation)
    assert wide.right - wide.left > MAX_WIDTH
    assert graph_layout(derivation).kind == "layer"
    with pytest.raises(SymbackpropError, match=f"at most {MAX_WIDTH:.0f} cm fit a page"):
        graph_layout(derivation, "scalar")


def test_cli_writes_the_graph_and_refuses_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "xor-graph.tex"
    assert main(["diagram", "xor", "--graph", "-o", str(target)], out=io.StringIO()) == 0
    text = unstamp_text(target.read_bytes())
    assert text.startswith(MARKER) and "computational graph (scalar)" in text.splitlines()[0]
    layers = [2] * (MAX_LAYER_DEPTH + 2)
    spec_file = tmp_path / "deep.toml"
    spec_file.write_text(
        f'name = "deep"\n[network]\nlayers = {layers}\nactivation = "tanh"\n'
        'output = "identity"\nloss = "mse"\n'
    )
    kept = tmp_path / "kept.tex"
    kept.write_text("my notes")
    for argv, words in [
        ([str(spec_file), "--graph"], f"--graph: the graph draws networks of at most "
         f"{MAX_LAYER_DEPTH} weight layers (this one has {MAX_LAYER_DEPTH + 1})"),
        (["digits", "--graph", "scalar"], "--graph: the scalar graph draws at most 16 products"),
        (["xor", "--graph", "--weight", "W1[0,0]"], "--graph: the computational graph takes no"),
        (["xor", "--graph", "--example"], "--graph: the computational graph takes no"),
        (["xor", "--graph", "-o", str(kept)], "exists"),
    ]:  # fmt: skip
        capsys.readouterr()
        assert main(["diagram", *argv], out=io.StringIO()) == 2, argv
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and words in err, err
    assert kept.read_text() == "my notes"


# -- each label is sympy.diff of its operation -------------------------------------------------


def _numbers(network, seed: int = 0) -> tuple[dict, dict]:  # noqa: ANN001
    """Random x, y, W, b (scalar symbols; targets that sum to 1 where the loss assumes it), and
    every index-form element at those numbers: W, b, x, y and the forward pass's z and a (so
    a = f(z) holds)."""
    rng = random.Random(seed)
    scalars = Scalars(network)
    symbols = [*scalars.x, *scalars.y, *(s for table in scalars.params.values() for s in
               table.values())]  # fmt: skip
    draws = {symbol: sp.Float(rng.uniform(0.1, 0.9)) for symbol in symbols}
    if network.loss.targets_sum_to_one:  # as the derivation assumes (cross-entropy's a - y)
        total = sum(draws[y] for y in scalars.y)
        draws.update({y: draws[y] / total for y in scalars.y})
    values = forward_values(network, scalars, explicit=True)
    elements = {
        element: sp.Float(expr.xreplace(draws).evalf(30)) for element, expr in values.items()
    }
    return draws, elements


def _value(expr: sp.Basic, elements: dict) -> float:
    """A derivative's number: its elements put in, named activations written out."""
    expr = expr.replace(lambda e: isinstance(e, (ActivationFunction, ActivationPrime)),
                        lambda e: e.expanded())  # fmt: skip
    return float(sp.sympify(expr).doit().xreplace(elements).doit().evalf(30))


SCALAR_CASES = {"xor": SPECS["xor"], "mazur": MAZUR, "ce342": CE342, "own": OWN}
NOTATION_OF = {"xor": "default", "mazur": "nielsen", "ce342": "goodfellow", "own": "default"}


@pytest.mark.parametrize("case", sorted(SCALAR_CASES))
def test_scalar_labels_read_back_as_sympy_diff_of_their_operation(case: str) -> None:
    """Every edge of the scalar graph (the user's own activation and Piecewise loss of OWN
    included), as printed in a profile."""
    derivation = derivation_of(SCALAR_CASES[case])
    network = derivation.network
    _, elements = _numbers(network)
    for notation in (NOTATION_OF[case],):
        drawn = scalar_graph(derivation, NOTATIONS[notation])
        printer = BackpropLatexPrinter(NOTATIONS[notation])
        for edge in drawn.edges:
            target = drawn.node(edge.target)
            expected = sp.diff(target.value, edge.variable)
            read = parse_printed(edge.label, edge.derivative, printer)
            assert _value(read, elements) == pytest.approx(_value(expected, elements), rel=1e-9), (
                edge.source,
                edge.target,
                edge.label,
            )


@pytest.mark.parametrize(
    "spec", [CE342, pytest.param(DEEP, marks=pytest.mark.slow)], ids=["ce342", "deep"]
)
def test_layer_labels_read_back_as_sympy_diff_of_their_operation(spec) -> None:  # noqa: ANN001
    """Each entry (j, p, q) of each Jacobian label of a layer graph."""
    derivation = derivation_of(spec)
    network = derivation.network
    sizes = network.concrete_sizes()
    _, elements = _numbers(network)
    drawn = graph_layout(derivation, "layer")
    printer = BackpropLatexPrinter()
    for edge in drawn.edges:
        target = drawn.node(edge.target)
        read = parse_printed(edge.label, edge.derivative, printer)
        expected = sp.diff(target.value, edge.variable)
        for index in _entries(edge, target, network):
            got = _value(read.xreplace(sizes).xreplace(index), elements)
            want = _value(expected.xreplace(sizes).xreplace(index), elements)
            assert got == pytest.approx(want, rel=1e-9, abs=1e-12), (edge.label, index)


def _entries(edge, target, network) -> list[dict]:  # noqa: ANN001
    """Every concrete (j, p, q) of a layer-graph edge's Jacobian entry: j over the entered
    node's units (none for the loss), p (and q) over the variable's."""
    sizes = network.concrete_sizes()
    shapes = {network.y: (sizes[network.output.n_out],)}
    for layer in network.layers:
        shapes[layer.W] = (sizes[layer.n_out], sizes[layer.n_in])
        shapes[layer.a_in] = (sizes[layer.n_in],)
        shapes.update(dict.fromkeys((layer.b, layer.z, layer.a), (sizes[layer.n_out],)))
    tails = list(itertools.product(*(range(n) for n in shapes[edge.variable.base])))
    if target.name == "loss":  # a scalar: its j is the sum's own
        return [dict(zip((p, q), tail)) for tail in tails]
    heads = range(shapes[target.symbol][0])
    return [dict(zip((j, p, q), (head, *tail))) for tail in tails for head in heads]


# -- the chain rule over the graph gives the derivation's gradients ---------------------------


def _paths(drawn: Graph, start: str) -> list[list]:
    """Every path of edges from node ``start`` to the loss."""
    leaving: dict[str, list] = {}
    for edge in drawn.edges:
        leaving.setdefault(edge.source, []).append(edge)
    if start == "loss":
        return [[]]
    return [[edge, *rest] for edge in leaving.get(start, []) for rest in _paths(drawn, edge.target)]


@pytest.mark.parametrize(
    "case", [pytest.param(c, marks=[pytest.mark.slow] if c == "own" else []) for c in
             sorted(SCALAR_CASES)]
)  # fmt: skip
def test_path_products_are_the_derivations_gradients(case: str) -> None:
    """For every parameter: the sum over its paths to the loss of the product of the edge
    labels equals dL/dw of the derivation, at random numbers."""
    derivation = derivation_of(SCALAR_CASES[case])
    network = derivation.network
    draws, elements = _numbers(network, seed=1)
    drawn = scalar_graph(derivation)
    leaf = {node.symbol: node.name for node in drawn.nodes if node.style == "leaf"}
    refs = all_params(network.spec)
    gradients = closed_forms(derivation, refs)
    checked = 0
    for ref, gradient in zip(refs, gradients):
        layer = network.layers[ref.layer - 1]
        element = layer.W[ref.index] if ref.kind == "W" else layer.b[ref.index]
        paths = _paths(drawn, leaf[element])
        assert paths, ref
        total = sum(np.prod([_value(edge.derivative, elements) for edge in path]) for path in paths)
        want = _value(gradient, draws)
        assert total == pytest.approx(want, rel=1e-9, abs=1e-12), (ref, param_symbol(ref))
        checked += 1
    assert checked == len(refs)


@pytest.mark.parametrize(
    "spec", [CE342, pytest.param(DEEP, marks=pytest.mark.slow)], ids=["ce342", "deep"]
)
def test_chained_jacobians_are_the_derivations_gradients(spec) -> None:  # noqa: ANN001
    """The layer graph: from dL/dL = 1, each node's gradient is the sum over its edges of the
    entered node's gradient times the edge's Jacobian (entries from the labels); the W and b
    gradients equal the derivation's."""
    derivation = derivation_of(spec)
    network = derivation.network
    sizes = network.concrete_sizes()
    draws, elements = _numbers(network, seed=2)
    drawn = graph_layout(derivation, "layer")
    gradient: dict[str, np.ndarray] = {"loss": np.ones(1)}
    for edge in reversed(drawn.edges):  # laid out from the input: each target is done first
        target = drawn.node(edge.target)
        entries = _entries(edge, target, network)
        free = (j, *(s for s in (p, q) if edge.variable.has(s)))
        jacobian = np.zeros([max(entry.get(s, 0) for entry in entries) + 1 for s in free])
        for index in entries:
            value = _value(edge.derivative.xreplace(sizes).xreplace(index), elements)
            jacobian[tuple(index.get(s, 0) for s in free)] = value
        contribution = np.tensordot(gradient[edge.target], jacobian, axes=(0, 0))
        gradient[edge.source] = gradient.get(edge.source, 0) + contribution
    refs = all_params(network.spec)
    wanted = closed_forms(derivation, refs)
    for ref, want in zip(refs, wanted):
        got = gradient[f"{ref.kind}{ref.layer}"][ref.index]
        assert got == pytest.approx(_value(want, draws), rel=1e-9, abs=1e-12), ref


# -- every symbol is the profile's -------------------------------------------------------------


@pytest.mark.parametrize("notation", sorted(LEAKS))
def test_each_profile_draws_only_its_own_symbols(notation: str) -> None:
    """Node texts, edge labels, the partials they are, the text under the layers and the caption
    hold no symbol of another profile; indices start where the profile starts them."""
    profile = NOTATIONS[notation]
    found = []
    for spec, kind in ((CE342, "scalar"), (CE342, "layer")):
        drawn = graph_layout(derivation_of(spec), kind, profile)
        texts = [node.text for node in drawn.nodes] + [n.below for n in drawn.nodes]
        texts += [edge.label for edge in drawn.edges] + [edge.partial for edge in drawn.edges]
        texts += [line for column in drawn.columns for line in column.lines]
        texts += list(graph_caption(kind, profile, lecture=True, title="t"))
        for text in texts:
            for math in re.findall(r"\$([^$]*)\$", text) or [text]:
                found += [(pat, math) for pat in LEAKS[notation] if re.search(pat, math)]
        if kind == "scalar" and profile.index_offset == 1:
            assert not any("_{0" in node.text for node in drawn.nodes), notation
    assert found == []
