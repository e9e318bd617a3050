"""Spec validation: good specs load, every kind of bad spec names its field."""

from __future__ import annotations

from pathlib import Path

import pytest

from symbackprop.errors import SpecError
from symbackprop.spec.model import builtin_specs, load_spec, parse_spec


def network(**fields: object) -> dict:
    base = {"layers": [2, 3, 1], "activation": "tanh", "output": "sigmoid", "loss": "mse"}
    base.update(fields)
    return {"name": "net", "network": {k: v for k, v in base.items() if v is not None}}


def test_builtins_load() -> None:
    assert {"xor", "digits"} <= set(builtin_specs())
    xor = load_spec("xor")
    assert xor.layers == (2, 4, 1) and xor.activations == ("tanh",) and xor.output == "sigmoid"
    digits = load_spec("digits")
    assert digits.layers == (64, 32, 10) and digits.loss == "cross_entropy"
    assert digits.data.test_fraction > 0


def test_defaults_and_lists() -> None:
    spec = parse_spec(network(layers=[2, 5, 4, 1], activation=["relu", "sigmoid"]))
    assert spec.activations == ("relu", "sigmoid")
    assert spec.training.learning_rate == 0.1 and spec.training.epochs == 100
    assert spec.dtype == "float64"
    single = parse_spec(network(layers=[3, 2], activation=None, output="identity"))
    assert single.depth == 1 and single.activations == ()


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"activation": "swish2"}, "network.activation", "unknown activation 'swish2'"),
        ({"output": "gelu9"}, "network.output", "unknown activation 'gelu9'"),
        ({"loss": "hinge9"}, "network.loss", "unknown loss 'hinge9'"),
        ({"activation": "softmax"}, "network.activation", "only allowed as the output"),
        ({"loss": "cross_entropy"}, "network.loss", "needs output softmax"),
        ({"loss": "binary_cross_entropy", "output": "tanh"}, "network.loss", "needs output"),
        ({"layers": [2, 0, 1]}, "network.layers", "must be an integer >= 1"),
        ({"layers": [2, -3, 1]}, "network.layers", "must be an integer >= 1"),
        ({"layers": [2.5, 3, 1]}, "network.layers", "must be an integer >= 1"),
        ({"layers": [2]}, "network.layers", "at least two sizes"),
        ({"layers": None}, "", "missing field 'network.layers'"),
        ({"output": None}, "", "missing field 'network.output'"),
        ({"loss": None}, "", "missing field 'network.loss'"),
        ({"activation": ["tanh", "relu"]}, "network.activation", "2 activations for 1 hidden"),
        ({"output": "softmax", "loss": "cross_entropy"}, "network.output", "at least 2 outputs"),
        ({"dtype": "float16"}, "network.dtype", "unknown dtype"),
        ({"activaton": "tanh"}, "", "unknown field 'network.activaton'"),
    ],
)
def test_bad_network(fields: dict, field: str, words: str) -> None:
    with pytest.raises(SpecError) as info:
        parse_spec(network(**fields), source="net.toml")
    message = str(info.value)
    assert words in message
    assert message.startswith("net.toml")
    assert field in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("table", "words"),
    [
        ({"name": "my-net"}, "not a valid Python identifier"),
        ({"name": "class"}, "not a valid Python identifier"),
        ({"name": 3}, "name: must be a string"),
        ({"training": {"learning_rate": -1}}, "training.learning_rate"),
        ({"training": {"epochs": 0}}, "training.epochs"),
        ({"training": {"batch_size": "big"}}, "training.batch_size"),
        ({"data": {"test_fraction": 1.5}}, "data.test_fraction"),
        ({"extra": 1}, "unknown field 'extra'"),
    ],
)
def test_bad_fields(table: dict, words: str) -> None:
    spec = network()
    spec.update(table)
    with pytest.raises(SpecError) as info:
        parse_spec(spec)
    assert words in str(info.value)


def test_missing_name() -> None:
    table = network()
    del table["name"]
    with pytest.raises(SpecError, match="missing field 'name'"):
        parse_spec(table)


def test_files(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="no such spec file"):
        load_spec(tmp_path / "absent.toml")
    with pytest.raises(SpecError, match="no spec file or built-in spec named 'nothing'"):
        load_spec("nothing")
    broken = tmp_path / "broken.toml"
    broken.write_text("name = 'x'\n[network\nlayers = [1]\n")
    with pytest.raises(SpecError, match="not valid TOML") as info:
        load_spec(broken)
    assert str(broken) in str(info.value)
    good = tmp_path / "good.toml"
    good.write_text(
        'name = "good"\n[network]\nlayers = [2, 2, 1]\noutput = "sigmoid"\nloss = "mse"\n'
    )
    spec = load_spec(good)
    assert spec.name == "good" and spec.source == str(good) and len(spec.digest) == 12
