"""Where the package's data lives: templates (shipped in the wheel, or the source tree's)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import jinja2

_PACKAGE = Path(__file__).resolve().parent.parent


def templates_dir() -> Path:
    """The Jinja2 templates: ``symbackprop/templates`` installed, ``templates/`` in a checkout."""
    for candidate in (_PACKAGE / "templates", _PACKAGE.parent / "templates"):
        if (candidate / "module.py.jinja").is_file():
            return candidate
    raise FileNotFoundError("symbackprop's templates folder is missing from this installation")


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The Jinja2 environment over the templates folder (Jinja2 is imported here, when a module
    or document is rendered: the warm path never imports it)."""
    import jinja2

    from .escape import FILTERS

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(FILTERS)  # outside strings reach each target through its escape filter
    return env
