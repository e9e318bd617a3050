"""Regenerate the committed examples: generated/<spec>.py and the golden derivations.

Run from the repository root after changing a template, a printer or a built-in spec:
    python scripts/regenerate.py
"""

from __future__ import annotations

from pathlib import Path

from symbackprop.codegen.source import write_module
from symbackprop.pipeline import module_source
from symbackprop.run.documents import document_for
from symbackprop.spec.model import builtin_specs, load_spec

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    for name in sorted(builtin_specs()):
        path = write_module(module_source(name), ROOT / "generated" / f"{name}.py", force=True)
        print(f"wrote {path.relative_to(ROOT)}")
        document = document_for(load_spec(name))
        for fmt, suffix in (("latex", "tex"), ("markdown", "md"), ("text", "txt")):
            golden = ROOT / "tests" / "golden" / f"{name}.{suffix}"
            golden.write_text(document.render(fmt))
            print(f"wrote {golden.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
