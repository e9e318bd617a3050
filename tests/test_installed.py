"""Under CI the tests exercise the installed wheel, not the checkout they sit in.

.ci/run installs the package non-editably, runs pytest with PYTHONSAFEPATH=1 (so `python -m
pytest` does not put the clone first on sys.path) and sets SYMBACKPROP_REQUIRE_INSTALLED=1.
Elsewhere (a developer's editable install or checkout) these tests are skipped.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from conftest import ROOT

import symbackprop

REQUIRE = "SYMBACKPROP_REQUIRE_INSTALLED"
pytestmark = pytest.mark.skipif(
    not os.environ.get(REQUIRE), reason=f"checks a non-editable install (.ci/run sets {REQUIRE}=1)"
)

SITE_PACKAGES = Path(sysconfig.get_paths()["purelib"]).resolve()
CHECKOUT_PACKAGE = (ROOT / "symbackprop").resolve()

# Records every .jinja and .toml file a fresh interpreter opens while it generates xor's module.
OPENED = """
import json, os, sys
opened = []
def hook(event, args):
    if event == "open" and not isinstance(args[0], int):
        path = os.fsdecode(os.fspath(args[0]))
        if path.endswith((".jinja", ".toml")):
            opened.append(os.path.realpath(path))
sys.addaudithook(hook)
import symbackprop
symbackprop.generate("xor")
print(json.dumps({"package": symbackprop.__file__, "opened": opened}))
"""


def test_tests_import_the_installed_package() -> None:
    package = Path(symbackprop.__file__).resolve().parent
    assert package != CHECKOUT_PACKAGE and package.is_relative_to(SITE_PACKAGES), (
        f"the tests import symbackprop from {package}, not from {SITE_PACKAGES}"
    )


def test_templates_and_builtin_specs_come_from_the_installed_wheel(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONSAFEPATH="1", SYMBACKPROP_CACHE=str(tmp_path / "cache"))
    done = subprocess.run(
        [sys.executable, "-c", OPENED],
        cwd=ROOT,  # the checkout's templates/ and specs lie right here: they must not be read
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.splitlines()[-1])
    package = Path(report["package"]).resolve().parent
    assert package.is_relative_to(SITE_PACKAGES), f"a subprocess imports symbackprop from {package}"
    opened = [Path(p) for p in report["opened"]]
    assert any(p.suffix == ".jinja" for p in opened), f"no template was read: {opened}"
    assert any(p.name == "xor.toml" for p in opened), f"the xor spec was not read: {opened}"
    outside = [str(p) for p in opened if not p.is_relative_to(package)]
    assert not outside, f"read from outside the installed package: {outside}"
