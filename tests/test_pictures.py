"""Graph pictures: draw_graph / render_graph. SVGs are rendered with the real `dot` program (CI installs
it; without it these tests fail with the install command, they do not skip) and read back."""
import contextlib
import re
import shutil
import xml.etree.ElementTree as ET
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autograd_mini as am
from autograd_mini import nn, pictures
from autograd_mini.errors import AutogradMiniError, GraphError, GraphvizMissingError

SVG = "{http://www.w3.org/2000/svg}"
XOR_X = [[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]]
XOR_Y = [[0], [1], [1], [0]]


def two_layer(scopes: bool = False) -> SimpleNamespace:
    """The documents' network: loss = 0.5 * sum((sigmoid(sigmoid(X @ W0) @ W1) - y) ** 2)."""
    rng = np.random.default_rng(0)
    X, y = am.Tensor(XOR_X, name="X"), am.Tensor(XOR_Y, name="y")
    W0 = am.Tensor(rng.uniform(-1, 1, (3, 4)), requires_grad=True, name="W0")
    W1 = am.Tensor(rng.uniform(-1, 1, (4, 1)), requires_grad=True, name="W1")
    with am.scope("layer1") if scopes else contextlib.nullcontext():
        h = (X @ W0).sigmoid()
    with am.scope("layer2") if scopes else contextlib.nullcontext():
        p = (h @ W1).sigmoid()
    loss = 0.5 * ((p - y) ** 2).sum()
    return SimpleNamespace(X=X, y=y, W0=W0, W1=W1, h=h, p=p, loss=loss)


def svg(digraph, tmp_path, name="graph.svg") -> dict:
    """Render with `dot` and read back: node id -> SimpleNamespace(texts, bold, fill, stroke, width, dashed)."""
    if shutil.which("dot") is None:
        pytest.fail("the graphviz `dot` program is missing; install it with: sudo apt-get install graphviz")
    root = ET.parse(am.render_graph(digraph, tmp_path / name)).getroot()
    nodes = {}
    for g in root.iter(f"{SVG}g"):
        if g.get("class") != "node":
            continue
        shapes = [e for e in g if e.tag in (f"{SVG}path", f"{SVG}polygon")]
        shape = shapes[-1].attrib if shapes else {}
        texts = [t.text for t in g.iter(f"{SVG}text")]
        nodes[g.find(f"{SVG}title").text] = SimpleNamespace(
            texts=texts, bold=[t.text for t in g.iter(f"{SVG}text") if t.get("font-weight") == "bold"],
            fill=shape.get("fill"), stroke=shape.get("stroke"), width=shape.get("stroke-width"),
            dashed="stroke-dasharray" in shape, text=" | ".join(texts))
    nodes["caption"] = [t.text for t in root.find(f"{SVG}g").findall(f"{SVG}text")]
    nodes["edges"] = [g.find(f"{SVG}title").text for g in root.iter(f"{SVG}g") if g.get("class") == "edge"]
    return nodes


def by_title(nodes: dict, title: str) -> list:
    return [n for k, n in nodes.items() if k.startswith("n") and n.bold[:1] == [title]]


def node_count(digraph) -> int:
    return sum(1 for line in digraph.body if re.match(r"\s*n\d+ \[", line))


def test_dot_program_is_installed():
    assert shutil.which("dot"), "the graphviz `dot` program is missing; install it with: sudo apt-get install graphviz"


def test_every_op_leaf_and_shape_is_drawn(tmp_path):
    net = two_layer()
    nodes = svg(am.draw_graph(net.loss), tmp_path)
    assert len(by_title(nodes, "matmul")) == 2 and len(by_title(nodes, "sigmoid")) == 2
    for op in ("sub", "pow", "sum"):
        assert len(by_title(nodes, op)) == 1
    (out,) = by_title(nodes, "mul")
    assert out.fill == pictures.STYLE["output"]["fillcolor"] and out.texts[1] == "scalar"
    (w0,) = by_title(nodes, "W0")
    assert w0.texts[1] == "(3, 4)" and w0.fill == pictures.STYLE["param"]["fillcolor"] and not w0.dashed
    (x,) = by_title(nodes, "X")
    assert x.texts[1] == "(4, 3)" and x.dashed and x.fill == "none"  # constants: dashed, unfilled
    assert sorted(n.text for k, n in nodes.items() if k.startswith("n") and not n.bold) == ["0.5", "2"]
    (sig,) = [n for n in by_title(nodes, "sigmoid") if n.texts[1] == "(4, 1)"]
    assert len(nodes["edges"]) == 13


@pytest.mark.parametrize("scopes", [False, True])
def test_operands_are_drawn_left_to_right_in_argument_order(scopes):
    digraph = am.draw_graph(two_layer(scopes).loss)
    plain = digraph.pipe(format="plain").decode()  # "node NAME X Y ..." after layout
    x = {line.split()[1]: float(line.split()[2]) for line in plain.splitlines() if line.startswith("node")}
    inputs: dict = {}
    for a, b in re.findall(r"(n\d+) -> (n\d+)", digraph.source):  # edges come in argument order
        inputs.setdefault(b, []).append(a)
    assert sum(len(args) == 2 for args in inputs.values()) == 5  # matmul twice, sub, pow, mul
    for op, args in inputs.items():
        assert [x[a] for a in args] == sorted(x[a] for a in args), op


def test_parameters_are_labelled_with_their_model_names(tmp_path):
    np.random.seed(1)
    model = nn.Sequential(nn.Linear(3, 4, bias=False), nn.Sigmoid(), nn.Linear(4, 1), nn.Sigmoid())
    loss = ((model(am.Tensor(XOR_X)) - am.Tensor(XOR_Y)) ** 2).mean()
    for params in (dict(model.named_parameters()), model, list(model.named_parameters())):
        nodes = svg(am.draw_graph(loss, params=params), tmp_path)
        titles = {n.bold[0] for k, n in nodes.items() if k.startswith("n") and n.bold}
        assert {"0.weight", "2.weight", "2.bias"} <= titles
    assert "subgraph cluster_0 {" in am.draw_graph(loss).source  # ops boxed by module scope
    w = am.Tensor(np.ones(3), requires_grad=True, name="w")
    assert by_title(svg(am.draw_graph(w.tanh(), params={"layer1.weight": w}), tmp_path), "layer1.weight")


def test_values_small_tensors_in_full_large_ones_summarised(tmp_path):
    net = two_layer()
    nodes = svg(am.draw_graph(net.loss), tmp_path)
    (w1,) = by_title(nodes, "W1")
    assert w1.texts[2] == "[" + ", ".join(f"{v:.3g}" for v in net.W1.data.ravel()) + "]"
    (w0,) = by_title(nodes, "W0")
    assert w0.texts[2] == f"mean {net.W0.data.mean():.3g}, std {net.W0.data.std():.3g}"
    (y,) = by_title(nodes, "y")
    assert y.texts[2] == "[0, 1, 1, 0]"
    hidden = svg(am.draw_graph(net.loss, show_values=False), tmp_path)
    assert by_title(hidden, "W0")[0].texts == ["W0", "(3, 4)"]
    bad = am.Tensor([1.0, np.nan, np.inf, 2.0, 3.0], requires_grad=True, name="bad")
    assert "1 nan, 1 inf of 5" in by_title(svg(am.draw_graph(bad * 2), tmp_path), "bad")[0].text


def test_gradients_appear_after_backward_for_leaves_and_every_op(tmp_path):
    net = two_layer()
    before = svg(am.draw_graph(net.loss), tmp_path)
    assert not any("grad" in n.text for k, n in before.items() if k.startswith("n"))
    net.loss.backward(retain_graph=True)
    w0_grad, w1_grad = net.W0.grad.copy(), net.W1.grad.copy()
    nodes = svg(am.draw_graph(net.loss), tmp_path)
    assert by_title(nodes, "W0")[0].texts[-1] == f"grad norm {np.linalg.norm(w0_grad):.3g}"
    w1_text = "grad [" + ", ".join(f"{v:.3g}" for v in w1_grad.ravel()) + "]"
    assert by_title(nodes, "W1")[0].texts[-1] == w1_text
    (dh,) = am.autograd.grad(net.loss, net.h, retain_graph=True)
    (hidden,) = [n for n in by_title(nodes, "sigmoid") if n.texts[1] == "(4, 4)"]
    assert hidden.texts[-1] == f"grad norm {np.linalg.norm(dh.data):.3g}"
    assert by_title(nodes, "mul")[0].texts[-1] == "grad 1"
    assert not any("grad" in n.text for k, n in nodes.items() if k.startswith("n") and n.dashed)  # constants
    np.testing.assert_array_equal(net.W0.grad, w0_grad)  # drawing leaves .grad alone
    np.testing.assert_array_equal(net.W1.grad, w1_grad)
    quiet = svg(am.draw_graph(net.loss, show_grads=False), tmp_path)
    assert not any("grad" in n.text for k, n in quiet.items() if k.startswith("n"))


def test_a_freed_graph_is_an_error_that_says_how_to_keep_it():
    net = two_layer()
    net.loss.backward()
    with pytest.raises(GraphError, match=r"retain_graph=True"):
        am.draw_graph(net.loss)


def test_audit_colours_parameters_whose_rule_is_not_an_exact_gradient(tmp_path):
    net = two_layer()
    audit = {"W0": SimpleNamespace(kind="exact", verdict="exact gradient"),
             "W1": SimpleNamespace(kind="wrong_derivative", verdict="derivative evaluated at the wrong argument")}
    nodes = svg(am.draw_graph(net.loss, audit=audit), tmp_path)
    (w0,), (w1,) = by_title(nodes, "W0"), by_title(nodes, "W1")
    assert w0.fill == pictures.STYLE["param"]["fillcolor"] and w0.texts[-1] == "✓ exact gradient"
    assert (w1.fill, w1.stroke) == pictures.VERDICT_STYLE["wrong"]
    assert w1.texts[-1] == "✗ derivative evaluated at the wrong argument"
    report = SimpleNamespace(params={"W1": SimpleNamespace(kind="factor", verdict="gradient of 2*L (factor 2)"),
                                     "V": "not_a_gradient"})  # a bare kind serves as its own text
    nodes = svg(am.draw_graph(net.loss, audit=report), tmp_path)
    assert (by_title(nodes, "W1")[0].fill, by_title(nodes, "W1")[0].stroke) == pictures.VERDICT_STYLE["factor"]
    assert "audit: no parameter named 'V' in this graph" in nodes["caption"]


def test_an_audit_report_highlights_the_node_where_the_rule_goes_wrong(tmp_path):
    """A report (duck-typed like am.audit's) names its variant node by identity, or for a fresh graph of
    the same loss by position among the op nodes, inputs first."""
    net = two_layer()
    ops = [t for t in net.loss.retain_graph_nodes() if t._op is not None]
    index = [id(t) for t in ops].index(id(net.p))
    variant = SimpleNamespace(op="sigmoid", node_index=index, node=am.Tensor(0.0),  # a node of another graph
                              description="derivative taken at the output: s'(s(z)) instead of s'(z)")
    report = SimpleNamespace(params={
        "W0": SimpleNamespace(variant=variant, kind="wrong_derivative",
                              verdict="sigmoid node #2 of 2: derivative taken at the output"),
        "W1": SimpleNamespace(variant=None, kind="undetermined", verdict="undetermined: ~0")})
    nodes = svg(am.draw_graph(net.loss, audit=report), tmp_path)
    (marked,) = [n for k, n in nodes.items() if k.startswith("n") and n.stroke == pictures.HIGHLIGHT]
    assert marked.texts[:2] == ["sigmoid", "(4, 1)"] and marked.texts[-1] == "W0: derivative taken at the output"
    assert (by_title(nodes, "W0")[0].fill, by_title(nodes, "W0")[0].stroke) == pictures.VERDICT_STYLE["wrong"]
    assert by_title(nodes, "W1")[0].texts[-1] == "? undetermined: ~0"
    assert by_title(nodes, "W1")[0].fill == pictures.STYLE["param"]["fillcolor"]
    variant.node, variant.node_index = net.p, 0  # identity wins over position
    assert am.draw_graph(net.loss, audit=report).source == am.draw_graph(
        net.loss, audit=dict(report.params), highlight={net.p: "W0: derivative taken at the output"}).source


def test_highlight_draws_a_thick_orange_border(tmp_path):
    net = two_layer()
    nodes = svg(am.draw_graph(net.loss, highlight=[net.p]), tmp_path)
    marked = [k for k, n in nodes.items() if k.startswith("n") and n.stroke == pictures.HIGHLIGHT]
    assert len(marked) == 1 and nodes[marked[0]].width == "3" and nodes[marked[0]].texts[:2] == ["sigmoid", "(4, 1)"]
    noted = svg(am.draw_graph(net.loss, highlight={net.p: "derivative taken at the output"}), tmp_path)
    assert any(n.texts[-1] == "derivative taken at the output" for k, n in noted.items() if k.startswith("n"))
    by_id = am.draw_graph(net.loss, highlight=[id(net.p)])
    assert by_id.source == am.draw_graph(net.loss, highlight=[net.p]).source
    stray = svg(am.draw_graph(net.loss, highlight=[am.Tensor(1.0)]), tmp_path)
    assert "highlight: 1 of the tensors given is not in this graph" in stray["caption"]


def test_collapse_by_scope_draws_one_node_per_module(tmp_path):
    net = two_layer(scopes=True)
    net.loss.backward(retain_graph=True)
    plain = am.draw_graph(net.loss)
    assert "subgraph cluster_layer1 {" in plain.source and node_count(plain) == 14
    digraph = am.draw_graph(net.loss, collapse=1)
    assert node_count(digraph) == 12
    nodes = svg(digraph, tmp_path)
    (layer1,) = by_title(nodes, "layer1: matmul×1, sigmoid×1")
    (layer2,) = by_title(nodes, "layer2: matmul×1, sigmoid×1")
    assert layer1.texts[1:3] == ["out (4, 4)", f"out mean {net.h.data.mean():.3g}, std {net.h.data.std():.3g}"]
    assert layer2.texts[-1].startswith("grad norm ") and layer2.texts[-1].endswith("(first … last op)")
    ids = {n.bold[0]: k for k, n in nodes.items() if k.startswith("n") and n.bold}
    assert f"{ids['layer1: matmul×1, sigmoid×1']}->{ids['layer2: matmul×1, sigmoid×1']}" in nodes["edges"]
    assert any("collapsed: ops by scope (depth 1)" in line for line in nodes["caption"])


def test_small_graphs_are_not_collapsed_by_auto():
    net = two_layer(scopes=True)
    assert node_count(am.draw_graph(net.loss)) == node_count(am.draw_graph(net.loss, collapse=None)) == 14


def test_a_chain_of_ten_thousand_ops_is_one_node(tmp_path):
    x = am.Tensor(np.linspace(-2, 2, 5), requires_grad=True, name="x")
    h = x
    for _ in range(10_000):
        h = h.tanh()
    loss = h.sum()
    loss.backward(retain_graph=True)
    digraph = am.draw_graph(loss)
    assert node_count(digraph) == 3
    nodes = svg(digraph, tmp_path)
    (run,) = by_title(nodes, "tanh ×10000")
    assert run.texts[1] == "out (5,)" and re.fullmatch(r"grad norm \S+ … 2.24 \(first … last op\)", run.texts[-1])
    assert by_title(nodes, "x") and by_title(nodes, "sum")
    assert any("10,002 tensors drawn as 3 nodes" in line for line in nodes["caption"])


def test_an_unrolled_recurrence_is_drawn_as_its_repeating_step(tmp_path):
    W = am.Tensor(0.5 * np.eye(3), requires_grad=True, name="W")
    h = am.Tensor(np.ones((1, 3)))
    for _ in range(5_000):
        h = (h @ W).tanh()
    digraph = am.draw_graph(h.sum())
    assert node_count(digraph) == 4
    nodes = svg(digraph, tmp_path)
    assert by_title(nodes, "(matmul → tanh) ×5000") and by_title(nodes, "W")
    assert "×5000" in digraph.source  # W feeds every step: one edge, counted


def test_a_deep_model_collapses_by_module_then_into_a_chain(tmp_path):
    np.random.seed(0)
    model = nn.Sequential(*[m for _ in range(2_000) for m in (nn.Linear(3, 3), nn.Tanh())])
    loss = model(am.Tensor(np.ones((2, 3)))).sum()
    digraph = am.draw_graph(loss, params=model)
    assert node_count(digraph) <= 6
    nodes = svg(digraph, tmp_path)
    assert by_title(nodes, "0 … 3999") and by_title(nodes, "2000 parameters")
    ranges = {n.texts[1] for n in by_title(nodes, "2000 parameters")}
    assert ranges == {"0.weight … 3998.weight", "0.bias … 3998.bias"}


def test_a_wide_graph_merges_its_parallel_branches(tmp_path):
    ws = [am.Tensor(np.full(2, i / 1e4), requires_grad=True, name=f"w{i}") for i in range(10_000)]
    total = ws[0].tanh()
    for w in ws[1:]:
        total = total + w.tanh()
    digraph = am.draw_graph(total.sum())
    assert node_count(digraph) == 4
    nodes = svg(digraph, tmp_path)
    for title in ("10000 parameters", "tanh ×10000", "add ×9999", "sum"):
        assert by_title(nodes, title), title


OPS = {"tanh": lambda a, b: a.tanh(), "sigmoid": lambda a, b: a.sigmoid(), "add": lambda a, b: a + b,
       "mul": lambda a, b: a * b, "sub": lambda a, b: a - b, "scale": lambda a, b: 0.5 * a}


@settings(max_examples=40, deadline=None)
@given(steps=st.lists(st.tuples(st.sampled_from(sorted(OPS)), st.integers(0, 10**6),
                                st.integers(0, 10**6), st.sampled_from([None, "a", "b", "a.c"])),
                      min_size=1, max_size=80),
       max_nodes=st.integers(8, 40), leaves=st.integers(1, 12))
def test_collapsing_any_graph_fits_in_max_nodes(steps, max_nodes, leaves):
    values = [am.Tensor(np.full(2, i + 1.0), requires_grad=i % 3 != 2, name=f"v{i}") for i in range(leaves)]
    values[0].requires_grad = True
    for op, i, j, scope in steps:
        with am.scope(scope) if scope else contextlib.nullcontext():
            values.append(OPS[op](values[i % len(values)], values[j % len(values)]))
    out = sum(values[1:], values[0]).sum()
    everything = am.draw_graph(out, collapse=None)
    assert node_count(everything) == len(pictures._Graph(out, {}).tensors)
    digraph = am.draw_graph(out, max_nodes=max_nodes)
    assert node_count(digraph) <= max_nodes
    assert re.search(r"color=\"#1a73e8\"", digraph.source)  # the output keeps its own node
    assert am.draw_graph(out, max_nodes=max_nodes).source == digraph.source  # deterministic


def test_render_writes_every_format(tmp_path):
    digraph = am.draw_graph(two_layer().loss)
    assert am.render_graph(digraph, tmp_path / "g.dot").read_text().startswith("digraph")
    assert am.render_graph(digraph, tmp_path / "sub" / "g.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert am.render_graph(digraph, tmp_path / "g.pdf").read_bytes()[:5] == b"%PDF-"
    assert b"<svg" in am.render_graph(digraph, tmp_path / "g.svg").read_bytes()
    with pytest.raises(ValueError, match=r"\.svg, \.png, \.pdf or \.dot"):
        am.render_graph(digraph, tmp_path / "g.jpg")


def test_without_dot_the_source_still_works_and_pictures_name_the_install_command(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    digraph = am.draw_graph(two_layer().loss)
    assert "digraph" in am.render_graph(digraph, tmp_path / "g.dot").read_text()
    with pytest.raises(GraphvizMissingError, match=r"sudo apt-get install graphviz") as error:
        am.render_graph(digraph, tmp_path / "g.svg")
    assert isinstance(error.value, AutogradMiniError) and isinstance(error.value, RuntimeError)
    assert not (tmp_path / "g.svg").exists()


def test_options_are_checked():
    loss = two_layer().loss
    assert "rankdir=LR" in am.draw_graph(loss, rankdir="LR").source
    with pytest.raises(ValueError, match="rankdir"):
        am.draw_graph(loss, rankdir="sideways")
    with pytest.raises(ValueError, match="collapse"):
        am.draw_graph(loss, collapse="everything")
    with pytest.raises(TypeError, match="Tensor"):
        am.draw_graph(np.ones(3))


def test_a_repeated_input_is_one_edge_with_its_count():
    x = am.Tensor([1.0, 2.0], requires_grad=True, name="x")
    assert re.search(r"n0 -> n1 \[label=\"×2\"\]", am.draw_graph(x * x).source)


def test_top_level_names():
    assert am.draw_graph is pictures.draw_graph and am.render_graph is pictures.render_graph


def test_audit_colours_come_from_the_reports_kind_not_its_words(tmp_path):
    """Words that once decided the colour ("factor", "exact") no longer do; the kind does."""
    net = two_layer()
    report = SimpleNamespace(params={
        "W0": SimpleNamespace(kind="factor", verdict="gradient of 0.5*L", variant=None),
        "W1": SimpleNamespace(kind="non_finite", verdict="exact? no: not finite, factor unknown", variant=None)})
    nodes = svg(am.draw_graph(net.loss, audit=report), tmp_path)
    (w0,), (w1,) = by_title(nodes, "W0"), by_title(nodes, "W1")
    assert (w0.fill, w0.stroke) == pictures.VERDICT_STYLE["factor"] and w0.texts[-1] == "✗ gradient of 0.5*L"
    assert (w1.fill, w1.stroke) == pictures.VERDICT_STYLE["wrong"]


def test_a_real_audit_report_is_drawn_from_its_kinds(tmp_path):
    net = two_layer()
    params = {"W0": net.W0.data, "W1": net.W1.data}

    def loss(p):
        hidden = (am.Tensor(XOR_X) @ p["W0"]).sigmoid()
        return 0.5 * (((hidden @ p["W1"]).sigmoid() - XOR_Y) ** 2).sum()
    report = am.audit(loss, params,
                      lambda p: {"W0": np.full(p["W0"].shape, np.nan), "W1": np.zeros(p["W1"].shape)}, n_random=1)
    assert report.kinds["W0"] == "non_finite"
    nodes = svg(am.draw_graph(net.loss, audit=report), tmp_path)
    assert (by_title(nodes, "W0")[0].fill, by_title(nodes, "W0")[0].stroke) == pictures.VERDICT_STYLE["wrong"]
