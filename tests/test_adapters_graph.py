"""NetworkX graphs and GraphML: direction convention, attributes, round trips, bad graphs."""
import networkx as nx
import numpy as np
import pytest

from rate_bridge.adapters import (Connectome, from_networkx, read_connectome, read_graphml,
                                  to_networkx, write_connectome)


def test_direction_convention_with_asymmetric_graph():
    g = nx.DiGraph()
    g.add_nodes_from(["A", "B", "C"])
    g.add_edge("A", "B", weight=2.0, length=10.0)  # A -> B only
    g.add_edge("C", "A", weight=0.5)  # C -> A, no length
    conn = read_connectome(g)
    assert conn.labels == ["A", "B", "C"]
    a, b, c = 0, 1, 2
    assert conn.weights[b, a] == 2.0  # weights[target, source]
    assert conn.weights[a, b] == 0.0
    assert conn.tract_lengths[b, a] == 10.0
    assert conn.weights[a, c] == 0.5 and conn.tract_lengths[a, c] == 0.0
    assert np.count_nonzero(conn.weights) == 2
    back = conn.to_networkx()
    assert set(back.edges) == {("A", "B"), ("C", "A")}
    assert back.edges["A", "B"] == {"weight": 2.0, "length": 10.0}


def test_exact_round_trip_with_all_attributes():
    rng = np.random.default_rng(0)
    w = rng.random((5, 5)) * (rng.random((5, 5)) > 0.4)
    tl = np.where(w > 0, rng.random((5, 5)) * 100, 0.0)
    tl[0, 1] = 3.0  # a length without a weight survives too
    conn = Connectome(w, tl, list("abcde"), rng.normal(size=(5, 3)), coord_frame="mri",
                      hemispheres=[0, 0, 1, 1, 1], cortical=[1, 0, 1, 0, 1],
                      orientations=rng.normal(size=(5, 3)), areas=rng.random(5), name="rnd")
    g = to_networkx(conn)
    assert isinstance(g, nx.DiGraph) and g.graph["coord_frame"] == "mri"
    assert g.nodes["c"]["hemisphere"] is True
    assert read_connectome(g).equals(conn, check_name=True)
    assert from_networkx(g).equals(conn, check_name=True)


def test_undirected_graph_integer_nodes_and_default_weight():
    g = nx.Graph()
    g.add_edge(0, 1)  # no weight: 1.0 (NetworkX convention)
    g.add_edge(1, 2, weight=3.0, length=4.0)
    conn = from_networkx(g)
    assert conn.labels == ["0", "1", "2"]
    np.testing.assert_array_equal(conn.weights, conn.weights.T)
    assert conn.weights[0, 1] == conn.weights[1, 0] == 1.0
    assert conn.tract_lengths[2, 1] == conn.tract_lengths[1, 2] == 4.0


def test_node_attributes_labels_centres_and_delays():
    g = nx.DiGraph(name="toy")
    g.add_node(0, label="V1", pos=(1.0, 2.0, 3.0))
    g.add_node(1, label="V2", pos=np.array([4.0, 5.0, 6.0]))
    g.add_edge(0, 1, weight=1.0, delay=5.0)  # 5 ms at 3 m/s (= 3 mm/ms) -> 15 mm
    conn = from_networkx(g, speed=3.0)
    assert conn.labels == ["V1", "V2"] and conn.name == "toy"
    np.testing.assert_array_equal(conn.centres, [[1, 2, 3], [4, 5, 6]])
    assert conn.tract_lengths[1, 0] == 15.0
    np.testing.assert_allclose(conn.delays(3.0)[1, 0], 5e-3)  # back to seconds
    with pytest.raises(ValueError, match="has a 'delay' \\(ms\\) but no 'length'.*speed"):
        from_networkx(g)


def test_graphml_file_round_trip(tmp_path):
    w = np.array([[0.0, 0.1], [1 / 3, 0.0]])
    conn = Connectome(w, w * 7, ["x", "y"], [[0.1, 0.2, 0.3], [1e-17, 2, 3]], coord_frame="tvb",
                      hemispheres=[False, True], name="gml")
    path = write_connectome(conn, tmp_path / "c.graphml")
    assert read_connectome(path).equals(conn, check_name=True)
    g = nx.read_graphml(path)  # plain networkx sees the same graph
    assert g.edges["y", "x"]["weight"] == 0.1


@pytest.mark.parametrize("make, match", [
    (lambda: nx.MultiDiGraph([(0, 1), (0, 1)]), "multigraphs are not supported"),
    (lambda: nx.DiGraph(), "the graph has no nodes"),
    (lambda: nx.DiGraph([(0, 1, {"weight": -1.0})]), r"weights must be >= 0.*-1\.0"),
    (lambda: nx.DiGraph([(0, 1, {"weight": float("nan")})]), "NaN/inf"),
    (lambda: nx.DiGraph([(0, 1, {"length": -2.0})]), "tract_lengths.*must be >= 0"),
    (lambda: nx.DiGraph([(0, 1, {"weight": "strong"})]), "non-numeric 'weight'"),
])
def test_bad_graphs_refused(make, match):
    with pytest.raises(ValueError, match=match):
        from_networkx(make())


def test_bad_node_attributes_refused():
    g = nx.DiGraph()
    g.add_node("a", x=0.0, y=0.0, z=0.0)
    g.add_node("b")
    with pytest.raises(ValueError, match=r"given for some nodes but missing for \['b'\]"):
        from_networkx(g)
    g = nx.DiGraph()
    g.add_node("a", label="same")
    g.add_node("b", label="same")
    with pytest.raises(ValueError, match=r"duplicated region labels \['same'\]"):
        from_networkx(g)
    g = nx.DiGraph()
    g.add_node("a", pos=(1.0, 2.0))
    with pytest.raises(ValueError, match=r"centres must have shape \(1, 3\)"):
        from_networkx(g)
    g = nx.DiGraph()
    g.add_node("a", hemisphere="maybe")
    with pytest.raises(ValueError, match="'hemisphere' must be a bool"):
        from_networkx(g)
    with pytest.raises(TypeError, match="networkx Graph"):
        from_networkx({"a": 1})


def test_bad_graphml_file(tmp_path):
    (tmp_path / "bad.graphml").write_text("<graphml><oops")
    with pytest.raises(ValueError, match=r"bad\.graphml: not a readable GraphML"):
        read_graphml(tmp_path / "bad.graphml")
    g = nx.DiGraph([("a", "b", {"weight": -3.0})])
    nx.write_graphml(g, tmp_path / "neg.graphml")
    with pytest.raises(ValueError, match=r"neg\.graphml: .*weights must be >= 0"):
        read_connectome(tmp_path / "neg.graphml")
