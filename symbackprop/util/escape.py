"""One escaping function per output target, for every string that comes from outside.

Spec paths, spec names, dataset paths, weight names and notes are written by users (or are file
names chosen by anyone). Wherever such a string reaches generated Python, LaTeX, Markdown or a
line of text, it goes through the function for that target, so that no character in it can end a
comment, open a command or start a new line:

- ``python_comment``: safe inside a ``#`` comment (one line; control characters escaped);
- ``python_string``: a Python string literal (``repr``, ASCII only);
- ``latex_text``: safe in LaTeX text mode and in ``%`` comments (specials escaped, one line);
  ``latex_breakable`` the same, free to wrap anywhere (a narrow column's heading);
- ``markdown_text``: safe in Markdown text and inside ``<!-- -->`` comments (one line);
- ``plain_line``: one printable line of plain text (error messages, .txt output).

The templates call them as Jinja2 filters (``{{ spec.source | latex_text }}``; see resources.py).
"""

from __future__ import annotations

_LATEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "$": r"\$",
    "&": r"\&",
    "#": r"\#",
    "%": r"\%",
    "_": r"\_",
    "^": r"\textasciicircum{}",
    "~": r"\textasciitilde{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
    '"': r"\textquotedbl{}",
}

_MARKDOWN_SPECIALS = set("\\`*_{}[]<>#!|$&~^")
"""Inline Markdown syntax (and ``>`` so that ``-->`` cannot end an HTML comment)."""


def _visible(char: str) -> str:
    """A control or otherwise unprintable character as a visible escape (\\n, \\x00, \\u2028)."""
    return repr(char)[1:-1]


def plain_line(text: object) -> str:
    """One line of printable text: newlines, tabs and other control characters escaped."""
    return "".join(c if c.isprintable() else _visible(c) for c in str(text))


def python_comment(text: object) -> str:
    """Text that stays inside one ``#`` comment line of Python source, and encodes as UTF-8."""
    out = plain_line(text)
    return out.encode("utf-8", "backslashreplace").decode("utf-8")


def python_string(text: object) -> str:
    """A Python string literal (quotes included) holding ``text``; ASCII only."""
    return ascii(str(text))


def latex_text(text: object) -> str:
    """Text for LaTeX text mode (and ``%`` comments): specials escaped, non-ASCII spelled out.

    Non-ASCII characters become ``[U+00E9]`` (pdflatex cannot typeset every code point), so the
    result always compiles.
    """
    parts = []
    for char in plain_line(text):
        if char in _LATEX_SPECIALS:
            parts.append(_LATEX_SPECIALS[char])
        elif ord(char) > 126:
            parts.append(f"[U+{ord(char):04X}]")
        else:
            parts.append(char)
    return "".join(parts)


def latex_breakable(text: object) -> str:
    """``latex_text`` that may break after any character, rather after ``_ / . -``: a name or
    path in a narrow column wraps where it would run past the column's edge."""
    parts = []
    for char in plain_line(text):
        parts.append(latex_text(char))
        parts.append(r"\allowbreak{}" if char in "_/.-" else r"\penalty300{}")
    return "".join(parts[:-1])


def markdown_text(text: object) -> str:
    """Inline Markdown text (and ``<!-- -->`` comments): its syntax characters backslash-escaped.

    Meant for positions inside a line (the templates never start a line with outside text).
    """
    return "".join("\\" + c if c in _MARKDOWN_SPECIALS else c for c in plain_line(text))


def shell_word(text: object) -> str:
    """``text`` quoted as one POSIX shell word (for "regenerate with" commands)."""
    import shlex

    return shlex.quote(str(text))


FILTERS = {
    "python_comment": python_comment,
    "python_string": python_string,
    "latex_text": latex_text,
    "latex_breakable": latex_breakable,
    "markdown_text": markdown_text,
    "plain_line": plain_line,
    "shell_word": shell_word,
}
"""The Jinja2 filters the templates use, by name."""
