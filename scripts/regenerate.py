"""Regenerate the committed examples: generated/<spec>.py and the golden derivations.

Run from the repository root after changing a template, a printer or a built-in spec:
    python scripts/regenerate.py
"""

from __future__ import annotations

from pathlib import Path

from symbackprop.codegen import write_module
from symbackprop.pipeline import module_source
from symbackprop.spec import builtin_specs

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    for name in sorted(builtin_specs()):
        path = write_module(module_source(name), ROOT / "generated" / f"{name}.py")
        print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
