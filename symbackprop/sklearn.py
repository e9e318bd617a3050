"""scikit-learn estimators over symbackprop's networks: ``MLPClassifier`` and ``MLPRegressor``.

    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from symbackprop.sklearn import MLPClassifier

    model = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(32,), epochs=100))
    model.fit(X_train, y_train).score(X_test, y_test)

``fit`` writes the network as a spec (``spec_``), derives and compiles it through the module
cache (refitting one architecture derives and compiles nothing again) and trains the generated
module on the arrays: the same code path as ``symbackprop.train(spec, X=..., y=...)``. The
derivation is ``derivation_`` (it renders in Jupyter), the generated module's file
``module_path_``.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from .pipeline import cached_module
from .run.runner import standardize
from .run.workflow import train_api
from .spec.model import Spec, parse_spec

__all__ = ["MLPClassifier", "MLPRegressor"]


class _Network(BaseEstimator):
    """What both estimators share: the spec they write, ``fit`` on arrays, the outputs."""

    _output = "identity"
    _loss = "mse"

    def __init__(
        self,
        hidden_layer_sizes: tuple[int, ...] = (32,),
        activation: str = "tanh",
        loss: str | None = None,
        optimizer: str = "adam",
        learning_rate: float = 0.01,
        batch_size: int = 32,
        epochs: int = 200,
        standardize: bool = False,
        dtype: str = "float64",
        random_state: Any = None,  # noqa: ANN401
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.loss = loss
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.epochs = epochs
        self.standardize = standardize
        self.dtype = dtype
        self.random_state = random_state

    def _spec(self, n_samples: int, n_in: int, n_out: int) -> Spec:
        """The network as a spec table, validated by the spec parser (errors name the field)."""
        sizes = self.hidden_layer_sizes
        hidden = [sizes] if isinstance(sizes, (int, np.integer)) else list(sizes)
        seed = self.random_state
        if seed is None:
            seed = 0  # deterministic by default: the same data give the same weights
        elif not isinstance(seed, (int, np.integer)):
            seed = int(check_random_state(seed).randint(np.iinfo(np.int32).max))
        table = {
            "name": type(self).__name__.lower(),
            "network": {
                "layers": [n_in, *(int(h) if isinstance(h, np.integer) else h for h in hidden),
                           n_out],  # fmt: skip  (3.7 or "a" are refused by the parser, not cut)
                "activation": self.activation,
                "output": self._output,
                "loss": self.loss or self._loss,
                "dtype": self.dtype,
            },
            "training": {
                "optimizer": self.optimizer,
                "learning_rate": self.learning_rate,
                "batch_size": min(self.batch_size, n_samples)
                if isinstance(self.batch_size, (int, np.integer))
                else self.batch_size,
                "epochs": self.epochs,
                "seed": int(seed),
            },
            "data": {"test_fraction": 0.0, "standardize": bool(self.standardize)},
        }
        return parse_spec(table, source=type(self).__name__)

    def _train(self, X: np.ndarray, targets: np.ndarray, n_out: int) -> None:
        spec = self._spec(X.shape[0], X.shape[1], n_out)
        trained = train_api(spec, None, False, {}, (X, targets))
        self.spec_ = spec
        self.params_ = trained.params
        self.standardization_ = trained.extras
        self.loss_curve_ = [float(v) for v in trained.result.losses]
        self.n_iter_ = trained.result.epochs
        self._module = trained.module

    def _outputs(self, X: Any) -> np.ndarray:  # noqa: ANN401
        check_is_fitted(self, "params_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        inputs = standardize(X, self.standardization_)
        return self.module_.forward(self.params_, inputs)

    @property
    def module_(self) -> ModuleType:
        """The generated training module (loaded from the module cache after unpickling)."""
        check_is_fitted(self, "params_")
        if getattr(self, "_module", None) is None:
            self._module = cached_module(self.spec_)
        return self._module

    @property
    def module_path_(self) -> Path:
        """The generated module's file (standalone: numpy, numba and the standard library)."""
        return Path(self.module_.__file__)

    @property
    def derivation_(self) -> Any:  # noqa: ANN401
        """The network's derivation (``symbackprop.derive``): renders in Jupyter, gives
        ``.latex()``, ``.markdown()``, ``.text()``."""
        from .run.documents import document_for

        check_is_fitted(self, "params_")
        return document_for(self.spec_, "default", False, None, False)

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state.pop("_module", None)  # a module does not pickle; it is reloaded from the cache
        return state


class MLPClassifier(ClassifierMixin, _Network):
    """A multi-layer perceptron classifier: softmax outputs, one per class, and cross-entropy
    (``loss`` may name another); ``activation`` a built-in name or an expression in ``x``."""

    _output = "softmax"
    _loss = "cross_entropy"

    def fit(self, X: Any, y: Any) -> MLPClassifier:  # noqa: ANN401
        """Derive, compile and train the network on X (n, features) and labels y (n,)."""
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        self.classes_, encoded = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(
                f"MLPClassifier needs samples of at least 2 classes; y has 1 class: "
                f"{self.classes_[0].item()!r}"
            )
        self._train(X, encoded, len(self.classes_))
        return self

    def predict_proba(self, X: Any) -> np.ndarray:  # noqa: ANN401
        """The network's softmax outputs: one column per class, in ``classes_`` order."""
        return self._outputs(X)

    def predict(self, X: Any) -> np.ndarray:  # noqa: ANN401
        """The most probable class of each row."""
        outputs = self._outputs(X)  # first: NotFittedError before fit
        return self.classes_[np.argmax(outputs, axis=1)]


class MLPRegressor(RegressorMixin, _Network):
    """A multi-layer perceptron regressor: identity outputs and mean squared error (``loss`` may
    name another); ``activation`` a built-in name or an expression in ``x``."""

    def fit(self, X: Any, y: Any) -> MLPRegressor:  # noqa: ANN401
        """Derive, compile and train the network on X (n, features) and targets y ((n,) or
        (n, outputs))."""
        X, y = validate_data(self, X, y, dtype=np.float64, multi_output=True, y_numeric=True)
        self._outputs_1d = y.ndim == 1
        targets = y.reshape(len(y), -1)
        self._train(X, targets, targets.shape[1])
        return self

    def __sklearn_tags__(self) -> Any:  # noqa: ANN401
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True  # y of shape (n, outputs): one network output each
        return tags

    def predict(self, X: Any) -> np.ndarray:  # noqa: ANN401
        """The network's outputs: shape (n,) for a 1-D y in ``fit``, else (n, outputs)."""
        outputs = self._outputs(X)
        return outputs[:, 0] if self._outputs_1d else outputs
