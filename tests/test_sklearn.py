"""The scikit-learn estimators (``symbackprop.sklearn``): the trained network's outputs, inside
scikit-learn's pipelines, cross-validation, grid search and pickle, and (slow) every check of
``sklearn.utils.estimator_checks.check_estimator``."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import symbackprop

sklearn = pytest.importorskip("sklearn")

from sklearn.datasets import load_iris  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from symbackprop.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

IRIS_X, IRIS_Y = load_iris(return_X_y=True)
SMALL = dict(hidden_layer_sizes=(5,), epochs=40, learning_rate=0.02)


@pytest.mark.slow  # the default run keeps the estimator's own tests (outputs, pickling, refits)
def test_classifier_in_a_pipeline_cross_validation_and_grid_search() -> None:
    model = make_pipeline(StandardScaler(), MLPClassifier(**SMALL))
    scores = cross_val_score(model, IRIS_X, IRIS_Y, cv=3)
    assert scores.min() > 0.8, scores
    search = GridSearchCV(
        make_pipeline(StandardScaler(), MLPClassifier(**SMALL)),
        {"mlpclassifier__learning_rate": [0.002, 0.02]},
        cv=2,
    ).fit(IRIS_X, IRIS_Y)
    assert search.best_params_ == {"mlpclassifier__learning_rate": 0.02}


def test_classifier_outputs_are_the_trained_networks_and_labels_keep_their_names() -> None:
    names = np.array(["setosa", "versicolor", "virginica"])[IRIS_Y]
    model = MLPClassifier(**SMALL, standardize=True).fit(IRIS_X, names)
    assert list(model.classes_) == ["setosa", "versicolor", "virginica"]
    assert model.n_features_in_ == 4 and len(model.loss_curve_) == 40
    assert model.spec_.layers == (4, 5, 3)
    # the same network trained through symbackprop.train on the encoded labels
    trained = symbackprop.train(model.spec_, X=IRIS_X, y=IRIS_Y)
    np.testing.assert_array_equal(model.predict_proba(IRIS_X), trained.forward(IRIS_X))
    predicted = model.predict(IRIS_X)  # labels, not indices
    assert predicted.dtype == names.dtype and set(predicted) <= set(names)
    assert model.score(IRIS_X, names) > 0.9
    probabilities = model.predict_proba(IRIS_X)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-12)
    assert model.module_path_.is_file() and "import sympy" not in model.module_path_.read_text()
    assert "tanh" in model.derivation_.latex()


def test_a_pickled_estimator_predicts_the_same_in_this_process() -> None:
    model = MLPClassifier(**SMALL).fit(IRIS_X, IRIS_Y)
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.predict_proba(IRIS_X), model.predict_proba(IRIS_X))


def test_refitting_one_architecture_derives_nothing_again(monkeypatch: pytest.MonkeyPatch) -> None:
    MLPClassifier(**SMALL).fit(IRIS_X, IRIS_Y)  # derives and caches the 4-5-3 module if needed
    from symbackprop import pipeline

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("derived again")

    monkeypatch.setattr(pipeline, "derivation_of", refuse)
    MLPClassifier(**{**SMALL, "learning_rate": 0.05, "random_state": 3}).fit(IRIS_X, IRIS_Y)


@pytest.mark.slow  # two more architectures to derive and compile
def test_regressor_fits_a_smooth_function_and_keeps_the_shape_of_y() -> None:
    rng = np.random.default_rng(1)
    X = rng.uniform(-1, 1, size=(200, 2))
    y = np.sin(X[:, 0]) + 0.5 * X[:, 1]
    model = MLPRegressor(hidden_layer_sizes=(8,), epochs=150, learning_rate=0.02).fit(X, y)
    predicted = model.predict(X)
    assert predicted.shape == (200,)
    r2 = 1 - np.sum((y - predicted) ** 2) / np.sum((y - y.mean()) ** 2)  # R² computed here
    assert r2 > 0.95 and model.score(X, y) == pytest.approx(r2)
    two = MLPRegressor(hidden_layer_sizes=(8,), epochs=5).fit(X, np.column_stack([y, -y]))
    assert two.predict(X).shape == (200, 2)


def test_a_bad_setting_is_refused_naming_the_spec_field() -> None:
    with pytest.raises(symbackprop.SpecError, match="MLPClassifier: network.activation"):
        MLPClassifier(activation="nonsense").fit(IRIS_X, IRIS_Y)
    with pytest.raises(symbackprop.SpecError, match="training.learning_rate"):
        MLPClassifier(learning_rate=-1.0).fit(IRIS_X, IRIS_Y)


@pytest.mark.parametrize(
    ("sizes", "words"),
    [
        ("ab", "layer size 'a' at position 1"),  # was int('a'): no field named
        ((3.7,), "layer size 3.7 at position 1"),  # was cut to 3 without a word
        ((True,), "layer size True at position 1"),
    ],
)
def test_bad_hidden_layer_sizes_are_refused_by_the_spec_parser(sizes: object, words: str) -> None:
    X, y = np.random.default_rng(0).random((20, 3)), np.arange(20) % 2
    with pytest.raises(symbackprop.SpecError, match="network.layers") as info:
        MLPClassifier(hidden_layer_sizes=sizes, epochs=1).fit(X, y)
    assert words in str(info.value)


def test_one_class_is_named_plainly() -> None:
    X = np.random.default_rng(0).random((20, 3))
    with pytest.raises(ValueError, match="y has 1 class: 0.0$"):
        MLPClassifier(epochs=1).fit(X, np.zeros(20))


@pytest.mark.slow  # two more architectures to derive and compile
def test_an_expression_activation_trains() -> None:
    model = MLPClassifier(**{**SMALL, "activation": "x/(1 + exp(-x))"}).fit(IRIS_X, IRIS_Y)
    assert model.score(IRIS_X, IRIS_Y) > 0.6


@pytest.mark.slow
@pytest.mark.timeout(3600)
@pytest.mark.parametrize("estimator", [MLPClassifier(epochs=50), MLPRegressor(epochs=50)])
def test_every_scikit_learn_estimator_check_passes(estimator: object) -> None:
    from sklearn.utils.estimator_checks import check_estimator

    results = check_estimator(estimator, on_fail=None)
    failed = [f"{r['check_name']}: {r['exception']!r}" for r in results if r["status"] == "failed"]
    assert not failed, "\n".join(failed)
    assert len(results) > 30
