"""Real CSVs (issue 21): columns chosen by name, string labels mapped to classes and kept with the
weights, empty cells, errors naming file, line and column; ``evaluate --json``'s metrics against
numbers computed here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import make_spec

from symbackprop.errors import DataError, SpecError
from symbackprop.run.data import csv_inputs, load_data, read_table
from symbackprop.run.metrics import classification_metrics, regression_metrics
from symbackprop.run.weights import load_weights, save_weights, saved_classes
from symbackprop.spec.model import Data, parse_spec

ROOT = Path(__file__).resolve().parent.parent


def kaggle_rows(n: int = 40, seed: int = 0) -> tuple[str, list[str]]:
    """``id,diagnosis,f1,f2,f3``: M where f1 + f2 > 0 (separable), ids that carry no signal."""
    rng = np.random.default_rng(seed)
    lines, labels = ["id,diagnosis,f1,f2,f3"], []
    for i in range(n):
        f = rng.normal(size=3)
        label = "M" if f[0] + f[1] > 0 else "B"
        labels.append(label)
        lines.append(f"{842300 + i},{label},{f[0]:.6f},{f[1]:.6f},{f[2]:.6f}")
    return "\n".join(lines) + "\n", labels


def csv_spec(path: Path, layers: list[int] | None = None, **data: object):  # noqa: ANN201
    output = "softmax" if (layers or [3, 4, 2])[-1] > 1 else "sigmoid"
    loss = "cross_entropy" if output == "softmax" else "binary_cross_entropy"
    spec = make_spec(layers or [3, 4, 2], output, loss)
    fields = {"target": "diagnosis", "drop": ("id",), **data}
    return replace(spec, data=Data(dataset=str(path), **fields))  # type: ignore[arg-type]


# --- the reader ------------------------------------------------------------------------------


def test_string_labels_map_to_sorted_classes_and_id_is_dropped(tmp_path: Path) -> None:
    text, labels = kaggle_rows(8)
    path = tmp_path / "data.csv"
    path.write_text(text)
    data = load_data(csv_spec(path))
    assert data.classes == ("B", "M") and data.classification
    np.testing.assert_array_equal(np.argmax(data.Y_train, axis=1), [lb == "M" for lb in labels])
    expected = np.loadtxt(path, delimiter=",", skiprows=1, usecols=(2, 3, 4))
    np.testing.assert_array_equal(data.X_train, expected)
    single = load_data(csv_spec(path, [3, 4, 1]))
    np.testing.assert_array_equal(single.Y_train[:, 0], [lb == "M" for lb in labels])


def test_features_choose_the_inputs_in_their_order(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_text("id,diagnosis,f1,f2,f3\n1,M,1.5,2.5,3.5\n2,B,4,5,6\n")
    spec = csv_spec(path, [2, 4, 2], features=("f3", "f1"), drop=())
    np.testing.assert_array_equal(load_data(spec).X_train, [[3.5, 1.5], [6, 4]])
    X, dropped = csv_inputs(path, spec)  # predict: the same columns
    np.testing.assert_array_equal(X, [[3.5, 1.5], [6, 4]])
    assert dropped == ()


def test_predict_reads_a_file_without_the_target_column(tmp_path: Path) -> None:
    path = tmp_path / "test.csv"
    path.write_text("id,f1,f2,f3\n7,1,2,3\n")
    X, _ = csv_inputs(path, csv_spec(path))
    np.testing.assert_array_equal(X, [[1, 2, 3]])


@pytest.mark.parametrize(
    ("content", "data", "words"),
    [
        ("id,diagnosis,f1,f2,f3\n1,M,1,2,3\n", {"target": "f3"},
         "data.csv line 2, column 'diagnosis': 'M' is not a number"),
        ("id,diagnosis,f1,f2,f3\n1,M,1,,3\n", {},
         "data.csv line 2, column 'f2': empty cell (fill it, or set data.missing"),
        ("id,diagnosis,f1,f2,f3\n1,M,1,2,3\n2,,1,2,3\n", {},
         "data.csv line 3, column 'diagnosis': empty cell"),
        ("id,diagnosis,f1,f2,f3\n1,M,1,2,3\n", {"drop": ("ID",)},
         "data.csv: data.drop: no column named 'ID' (columns: id, diagnosis, f1, f2, f3)"),
        ("id,diagnosis,f1,f2,f3\n1,M,1,2,3\n", {"features": ("f1", "f9", "f3"), "drop": ()},
         "data.csv: data.features: no column named 'f9'"),
        ("1,M,1,2,3\n", {}, "data.csv: data.drop: names columns, but the file has no header"),
        ("id,diagnosis,f1,f2,f3\n1,M,1,2,3\n2,B,1,2,3\n3,X,1,2,3\n", {},
         "data.csv, column 'diagnosis': 3 classes (B, M, X), but the network has 2 outputs"),
        ("id,diagnosis,f1,f2,f3\n1,M,1,2,3\n", {},
         "1 classes (M), but the network has 2 outputs"),
        ("id,diagnosis,f1,f2,f3\n1,M,1,2,3\n2,\x1b[31m,1,2,3\n", {},
         "must be printable text"),
    ],
)  # fmt: skip
def test_bad_csv_cells_name_file_line_and_column(
    tmp_path: Path, content: str, data: dict, words: str
) -> None:
    path = tmp_path / "data.csv"
    path.write_text(content)
    with pytest.raises(DataError) as info:
        load_data(csv_spec(path, **data))
    assert str(info.value).startswith(str(path)) and words in str(info.value)
    assert len(str(info.value).splitlines()) == 1


def test_a_regression_target_of_strings_is_not_a_number(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_text("id,diagnosis,f1,f2,f3\n1,2.5,1,2,3\n2,M,1,2,3\n")
    spec = replace(make_spec([3, 4, 1], "identity", "mse"), data=Data(
        dataset=str(path), target="diagnosis", drop=("id",)))  # fmt: skip
    with pytest.raises(DataError, match="data.csv line 3, column 'diagnosis': 'M' is not a num"):
        load_data(spec)


def test_missing_drop_leaves_rows_with_an_empty_cell_out(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_text("id,diagnosis,f1,f2,f3\n1,M,1,2,3\n,B,4,,6\n3,B,7,8,9\n4,,1,1,1\n5,M,0,0,\n")
    data = load_data(csv_spec(path, missing="drop"))
    # the empty id is in a dropped column: that row stays; the others go
    np.testing.assert_array_equal(data.X_train, [[1, 2, 3], [7, 8, 9]])
    assert csv_inputs(path, csv_spec(path, missing="drop"))[1] == (3, 6)  # no target needed
    everything = tmp_path / "gaps.csv"
    everything.write_text("id,diagnosis,f1,f2,f3\n1,M,,2,3\n")
    with pytest.raises(DataError, match="no rows left: every row has an empty cell"):
        load_data(csv_spec(everything, missing="drop"))


def test_the_reader_keeps_lines_and_the_header(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_text("\ufeffa,b\n\n1,x\n\n2,y\n")
    table = read_table(path)
    assert table.header == ["a", "b"] and table.lines == [3, 5]
    assert table.at(1, 1) == f"{path} line 5, column 'b'"


def test_generated_settings_and_column_choices_beside_other_data_are_refused(
    tmp_path: Path,
) -> None:
    """Before issue 21 ``samples`` beside a data file was silently ignored."""
    path = tmp_path / "d.csv"
    path.write_text("0,0,0\n1,1,1\n")
    spec = make_spec([2, 3, 1], "sigmoid", "mse")
    for field in ({"samples": 100}, {"noise": 0.1}):
        with pytest.raises(DataError, match=f"data.{next(iter(field))}: applies to generated"):
            load_data(replace(spec, data=Data(dataset=str(path), **field)))  # type: ignore[arg-type]
    npz = tmp_path / "d.npz"
    np.savez(npz, X=np.zeros((2, 2)), y=np.zeros(2))
    for source in (str(npz), "xor"):
        with pytest.raises(DataError, match="data.drop: applies to .csv files only"):
            load_data(replace(spec, data=Data(dataset=source, target="y", drop=("id",))))


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"features": "f1"}, "data.features: must be a non-empty list"),
        ({"features": [], "target": "y"}, "data.features: must be a non-empty list"),
        ({"features": ["a", 1], "target": "y"}, "data.features: must list column names"),
        ({"features": ["a", "a"], "target": "y"}, "data.features: lists 'a' twice"),
        ({"features": ["a", "b"]}, "data.features: needs data.target"),
        ({"features": ["a"], "target": "y"}, "lists 1 column, but the network takes 2 inputs"),
        ({"features": ["a", "b"], "drop": ["c"], "target": "y"}, "data.drop: give data.features"),
        ({"drop": ["id", "y"], "target": "y"}, "data.drop: the target 'y' is listed here too"),
        ({"features": ["a", "y"], "target": "y"}, "data.features: the target 'y' is listed"),
        ({"missing": "skip"}, 'data.missing: must be "error" or "drop"'),
    ],
)
def test_bad_column_fields_name_the_field(data: dict, words: str) -> None:
    table = {"name": "s", "network": {"layers": [2, 3, 2], "output": "softmax",
                                      "loss": "cross_entropy"}, "data": data}  # fmt: skip
    with pytest.raises(SpecError) as info:
        parse_spec(table, source="s.toml")
    assert words in str(info.value) and str(info.value).startswith("s.toml: data.")


# --- weights keep the class names ------------------------------------------------------------


def test_weights_keep_class_names_and_old_files_load(tmp_path: Path) -> None:
    spec = make_spec([2, 3, 2], "softmax", "cross_entropy")
    params = [np.zeros((3, 2)), np.zeros(3), np.zeros((2, 3)), np.zeros(2)]
    old = tmp_path / "old.npz"
    save_weights(old, spec, params)
    assert saved_classes(spec, load_weights(old, spec)[1], "old.npz") is None
    new = tmp_path / "new.npz"
    save_weights(new, spec, params, {"classes": np.array(["B", "M"])})
    assert saved_classes(spec, load_weights(new, spec)[1], "new.npz") == ("B", "M")


@pytest.mark.parametrize(
    ("classes", "words"),
    [
        (np.array([1, 2]), "array 'classes' has shape (2,) and dtype int64"),
        (np.array([["B", "M"]]), "expected a 1-D array of class names"),
        (np.array(["B", "M", "X"]), "3 classes (B, M, X), but the network has 2 outputs"),
        (np.array(["B", "B"]), "2 classes (B, B)"),
        (np.array(["B", "M\n"]), "must be printable text"),
        (np.array(["B", "M"]), "regression"),
    ],
)
def test_hostile_class_names_are_refused(tmp_path: Path, classes: np.ndarray, words: str) -> None:
    spec = make_spec([2, 3, 2], "softmax", "cross_entropy")
    if words == "regression":
        spec, words = make_spec([2, 3, 2], "identity", "mse"), "need a softmax or sigmoid output"
    path = tmp_path / "w.npz"
    params = [np.zeros((3, 2)), np.zeros(3), np.zeros((2, 3)), np.zeros(2)]
    save_weights(path, spec, params, {"classes": classes})
    with pytest.raises(DataError) as info:
        saved_classes(spec, load_weights(path, spec)[1], str(path))
    assert words in str(info.value) and str(path) in str(info.value)


# --- metrics ---------------------------------------------------------------------------------


def numpy_report(truth: np.ndarray, predicted: np.ndarray, k: int) -> tuple[np.ndarray, list]:
    """Confusion matrix and (precision, recall, f1) per class, written out here."""
    matrix = np.array([[np.sum((truth == i) & (predicted == j)) for j in range(k)]
                       for i in range(k)])  # fmt: skip
    rows = []
    for c in range(k):
        tp = np.sum((truth == c) & (predicted == c))
        p = tp / max(np.sum(predicted == c), 1)
        r = tp / max(np.sum(truth == c), 1)
        rows.append((p, r, 0.0 if p + r == 0 else 2 * p * r / (p + r)))
    return matrix, rows


def test_classification_metrics_equal_numbers_computed_here() -> None:
    rng = np.random.default_rng(3)
    outputs = rng.dirichlet(np.ones(3), size=50)
    truth = rng.integers(0, 3, size=50)
    truth[:5] = 2
    report = classification_metrics(outputs, np.eye(3)[truth], ("a", "b", "c"))
    matrix, rows = numpy_report(truth, np.argmax(outputs, axis=1), 3)
    assert report["confusion_matrix"] == matrix.tolist()
    for name, (p, r, f) in zip("abc", rows, strict=True):
        got = report["per_class"][name]
        assert got["precision"] == pytest.approx(p) and got["recall"] == pytest.approx(r)
        assert got["f1"] == pytest.approx(f)
        assert got["support"] == np.sum(truth == "abc".index(name))
    binary = classification_metrics(np.array([[0.9], [0.2], [0.6]]), np.array([[1], [1], [0.0]]))
    assert binary["confusion_matrix"] == [[0, 1], [1, 1]] and binary["classes"] == ["0", "1"]
    assert binary["per_class"]["0"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}


def test_metrics_equal_scikit_learns() -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(4)
    outputs, truth = rng.dirichlet(np.ones(4), size=80), rng.integers(0, 4, size=80)
    report = classification_metrics(outputs, np.eye(4)[truth])
    predicted = np.argmax(outputs, axis=1)
    assert report["confusion_matrix"] == metrics.confusion_matrix(truth, predicted).tolist()
    p, r, f, s = metrics.precision_recall_fscore_support(truth, predicted, zero_division=0)
    for k in range(4):
        got = report["per_class"][str(k)]
        assert (got["precision"], got["recall"], got["f1"]) == pytest.approx((p[k], r[k], f[k]))
        assert got["support"] == s[k]
    Y, out = rng.normal(size=(30, 2)), rng.normal(size=(30, 2))
    Y[:, 1] = 1.0  # a column without variance: R² 0 unless exact, as scikit-learn's
    got = regression_metrics(out, Y)
    assert got["r2"] == pytest.approx(metrics.r2_score(Y, out))
    assert got["mae"] == pytest.approx(metrics.mean_absolute_error(Y, out))
    assert got["mse"] == pytest.approx(metrics.mean_squared_error(Y, out))


def test_regression_metrics_equal_numbers_computed_here() -> None:
    Y = np.array([[1.0], [2.0], [4.0]])
    out = np.array([[1.5], [2.0], [3.0]])
    got = regression_metrics(out, Y)
    assert got["mse"] == pytest.approx((0.25 + 0 + 1) / 3)
    assert got["mae"] == pytest.approx(1.5 / 3)
    assert got["r2"] == pytest.approx(1 - 1.25 / np.sum((Y - Y.mean()) ** 2))
    assert regression_metrics(Y, Y)["r2"] == 1.0


# --- end to end through the CLI ---------------------------------------------------------------

SPEC = """name = "{name}"
[network]
layers = [3, 6, {n_out}]
activation = "tanh"
output = "{output}"
loss = "{loss}"
[training]
epochs = 150
batch_size = 8
learning_rate = 0.1
optimizer = "adam"
[data]
dataset = "train.csv"
target = "{target}"
drop = ["id"]
standardize = true
"""


def symbackprop(folder: Path, *argv: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return subprocess.run(
        [sys.executable, "-m", "symbackprop", *argv],
        capture_output=True, text=True, timeout=300, cwd=folder, env=env,
    )  # fmt: skip


def test_a_kaggle_csv_trains_predicts_its_labels_and_evaluates(tmp_path: Path) -> None:
    text, _ = kaggle_rows(60)
    (tmp_path / "train.csv").write_text(text)
    held, labels = kaggle_rows(30, seed=1)
    (tmp_path / "test.csv").write_text(held)
    rows = held.splitlines()
    (tmp_path / "unlabelled.csv").write_text(
        "\n".join(",".join(r.split(",")[:1] + r.split(",")[2:]) for r in rows) + "\n"
    )
    (tmp_path / "net.toml").write_text(SPEC.format(
        name="kaggle", n_out=2, output="softmax", loss="cross_entropy", target="diagnosis"))
    run = symbackprop(tmp_path, "run", "net.toml", "--quiet-derivation", "--save", "w.npz")
    assert run.returncode == 0, run.stderr
    assert tuple(np.load(tmp_path / "w.npz")["classes"]) == ("B", "M")
    predict = symbackprop(tmp_path, "predict", "net.toml", "w.npz", "unlabelled.csv")
    assert predict.returncode == 0, predict.stderr
    table = [line.split(",") for line in predict.stdout.splitlines()]
    assert table[0] == ["class", "p0", "p1"] and len(table) == 31
    predicted = [row[0] for row in table[1:]]
    assert set(predicted) <= {"B", "M"}
    assert np.mean(np.array(predicted) == np.array(labels)) > 0.8  # separable: it learned
    outputs = np.array([[float(v) for v in row[1:]] for row in table[1:]])
    evaluate = symbackprop(tmp_path, "evaluate", "net.toml", "w.npz", "test.csv", "--json")
    assert evaluate.returncode == 0, evaluate.stderr
    report = json.loads(evaluate.stdout)
    truth = np.array([lb == "M" for lb in labels], dtype=int)
    matrix, per_class = numpy_report(truth, np.argmax(outputs, axis=1), 2)
    assert report["task"] == "classification" and report["classes"] == ["B", "M"]
    assert report["confusion_matrix"] == matrix.tolist() and report["samples"] == 30
    for name, (p, r, f) in zip("BM", per_class, strict=True):
        got = report["per_class"][name]
        assert (got["precision"], got["recall"], got["f1"]) == pytest.approx((p, r, f))
    assert report["accuracy"] == pytest.approx(np.mean(truth == np.argmax(outputs, axis=1)))
    p = np.clip(outputs[np.arange(30), truth], 1e-300, None)
    assert report["loss"] == pytest.approx(-np.mean(np.log(p)), rel=1e-9)


def test_cli_refuses_an_empty_cell_and_samples_beside_a_file_in_one_line(tmp_path: Path) -> None:
    text, _ = kaggle_rows(6)
    lines = text.splitlines()
    parts = lines[3].split(",")
    parts[3] = ""
    lines[3] = ",".join(parts)
    (tmp_path / "train.csv").write_text("\n".join(lines) + "\n")
    spec = SPEC.format(name="gaps", n_out=2, output="softmax", loss="cross_entropy",
                       target="diagnosis")  # fmt: skip
    (tmp_path / "net.toml").write_text(spec)
    run = symbackprop(tmp_path, "run", "net.toml", "--quiet-derivation")
    assert run.returncode == 2 and run.stderr.count("\n") == 1, run.stderr
    assert "train.csv line 4, column 'f2': empty cell" in run.stderr
    (tmp_path / "net.toml").write_text(spec + "samples = 100\n")
    run = symbackprop(tmp_path, "run", "net.toml", "--quiet-derivation")
    assert run.returncode == 2 and run.stderr.count("\n") == 1, run.stderr
    assert "net.toml: data.samples: applies to generated datasets only" in run.stderr
    (tmp_path / "net.toml").write_text(spec.replace('drop = ["id"]', 'drop = "id"'))
    run = symbackprop(tmp_path, "run", "net.toml", "--quiet-derivation")
    assert run.returncode == 2 and run.stderr.count("\n") == 1, run.stderr
    assert "net.toml: data.drop: must be a non-empty list of column names" in run.stderr


@pytest.mark.slow  # end to end through the CLI; the metrics' unit tests stay
def test_evaluate_json_for_regression_equals_numbers_computed_here(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    X = rng.normal(size=(40, 3))
    y = X @ np.array([0.5, -1.0, 0.25]) + 0.1
    rows = ["id,f1,f2,f3,price"] + [
        f"{i},{a:.6f},{b:.6f},{c:.6f},{t:.6f}" for i, ((a, b, c), t) in enumerate(zip(X, y))
    ]
    (tmp_path / "train.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "net.toml").write_text(SPEC.format(
        name="price", n_out=1, output="identity", loss="mse", target="price"))
    assert symbackprop(tmp_path, "run", "net.toml", "--quiet-derivation", "--save", "w.npz"
                       ).returncode == 0  # fmt: skip
    predict = symbackprop(tmp_path, "predict", "net.toml", "w.npz", "train.csv")
    outputs = np.array([float(line) for line in predict.stdout.splitlines()[1:]])
    evaluate = symbackprop(tmp_path, "evaluate", "net.toml", "w.npz", "train.csv", "--json")
    assert evaluate.returncode == 0, evaluate.stderr
    report = json.loads(evaluate.stdout)
    Y = np.array([float(r.split(",")[-1]) for r in rows[1:]])
    assert report["task"] == "regression" and report["samples"] == 40
    assert report["mse"] == pytest.approx(np.mean((outputs - Y) ** 2), rel=1e-9)
    assert report["mae"] == pytest.approx(np.mean(np.abs(outputs - Y)), rel=1e-9)
    r2 = 1 - np.sum((outputs - Y) ** 2) / np.sum((Y - Y.mean()) ** 2)
    assert report["r2"] == pytest.approx(r2, rel=1e-9) and report["r2"] > 0.9
    assert "confusion_matrix" not in report
    text = symbackprop(tmp_path, "evaluate", "net.toml", "w.npz", "train.csv")
    assert text.stdout.startswith("loss ") and "{" not in text.stdout


@pytest.mark.parametrize("layers", [[3, 4, 2], pytest.param([3, 4, 1], marks=pytest.mark.slow)])
def test_trained_predict_gives_the_original_labels(tmp_path: Path, layers: list[int]) -> None:
    import symbackprop

    text, _ = kaggle_rows(24)
    path = tmp_path / "data.csv"
    path.write_text(text)
    trained = symbackprop.train(csv_spec(path, layers), epochs=3)
    assert tuple(trained.extras["classes"]) == ("B", "M")
    X = np.loadtxt(path, delimiter=",", skiprows=1, usecols=(2, 3, 4))
    outputs = trained.forward(X)
    found = np.argmax(outputs, axis=1) if layers[-1] > 1 else (outputs[:, 0] >= 0.5).astype(int)
    predicted = trained.predict(X)
    assert predicted.dtype.kind == "U"
    np.testing.assert_array_equal(predicted, np.array(["B", "M"])[found])


def test_predict_says_which_lines_missing_drop_left_out() -> None:
    """``predict`` under ``missing = "drop"`` printed only a count ("left out 1 rows"), so with
    the id column dropped its rows could not be matched to the file's."""
    from symbackprop.run.workflow import dropped_note

    assert dropped_note((4,), 4) == (
        'left out 1 row with an empty cell (line 4; missing = "drop"): 4 predictions, one per '
        "other row, in file order"
    )
    note = dropped_note(tuple(range(2, 14)), 7)
    assert "12 rows" in note and "lines 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 and 2 more" in note
