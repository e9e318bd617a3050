"""Safe parsing of user-written formulas (activations, losses) into SymPy expressions.

``sympify`` and ``parse_expr`` run ``eval`` on their input, and SymPy evaluates constant
powers eagerly (``9**9**9**9`` never returns).  This module never does either: the text is read
by Python's ``ast`` module (which only parses) and a SymPy expression is built node by node from
an allowlist.  Everything not on the list is refused with an :class:`ExpressionError` naming the
offending token and its column.

Allowed: numbers, the declared variables, ``+ - * / **``, unary minus (and plus), the functions
in :data:`FUNCTIONS`, the constants ``pi`` and ``E``, and inside the conditions of
``Piecewise((value, condition), ..., (value, True))``: comparisons ``< <= > >= == !=``,
``and``, ``or``, ``not`` and ``True``.

Limits (see :data:`LIMITS`) keep SymPy fast on any input: text length, number of syntax nodes,
nesting depth, digits of integer literals, size of constant exponents (no constant power
towers), finite float literals.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Sequence

import sympy as sp

from ..errors import ExpressionError
from ..util.parsing import ParserRaceError, parse_python

MAX_LENGTH = 2000
"""Longest accepted text (characters)."""
MAX_NODES = 500
"""Most syntax-tree nodes in one expression."""
MAX_DEPTH = 100
"""Deepest nesting of syntax-tree nodes."""
MAX_INT_DIGITS = 20
"""Most digits of an integer literal."""
MAX_EXPONENT = 100
"""Largest absolute value of a constant exponent (``x**100`` is fine, ``10**10000`` is not)."""
MAX_POWER_DIGITS = 300
"""Largest constant power (base and exponent numbers), as a power of ten."""
MAX_FLOAT = 1e300
"""Largest absolute value of a float literal (``1e400`` overflows to inf and is refused)."""
MAX_DECIMAL_DENOMINATOR = 10**6
"""A float literal with at most six decimals (``0.125``, ``2.5e-3``) is kept as that exact
decimal fraction; longer ones stay floats."""

LIMITS = {
    "characters": MAX_LENGTH,
    "syntax nodes": MAX_NODES,
    "nesting depth": MAX_DEPTH,
    "integer literal digits": MAX_INT_DIGITS,
    "constant exponent": MAX_EXPONENT,
    "float literal magnitude": MAX_FLOAT,
    "constant power magnitude": 10**MAX_POWER_DIGITS,
}


_UNARY: dict[str, Callable[[sp.Expr], sp.Expr]] = {
    "exp": sp.exp,
    "log": sp.log,
    "sqrt": sp.sqrt,
    "tanh": sp.tanh,
    "sinh": sp.sinh,
    "cosh": sp.cosh,
    "sin": sp.sin,
    "cos": sp.cos,
    "erf": sp.erf,
    "erfc": sp.erfc,
    "Abs": sp.Abs,
    "sign": sp.sign,
    "Heaviside": sp.Heaviside,
}
_VARIADIC: dict[str, Callable[..., sp.Expr]] = {"Max": sp.Max, "Min": sp.Min}
FUNCTIONS: tuple[str, ...] = (*_UNARY, *_VARIADIC, "Piecewise")
"""The function names an expression may call."""
CONSTANTS: dict[str, sp.Expr] = {"pi": sp.pi, "E": sp.E}
"""The named constants an expression may use."""

_BINARY = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
_COMPARE: dict[type, Callable[[sp.Expr, sp.Expr], sp.Basic]] = {
    ast.Lt: sp.Lt,
    ast.LtE: sp.Le,
    ast.Gt: sp.Gt,
    ast.GtE: sp.Ge,
    ast.Eq: sp.Eq,
    ast.NotEq: sp.Ne,
}


def variable(name: str) -> sp.Symbol:
    """The SymPy symbol of an expression variable (real, as in the function registry)."""
    return sp.Symbol(name, real=True)


def parse_expression(text: str, variables: Sequence[str] = ("x",)) -> sp.Expr:
    """The SymPy expression written in ``text``, in the real symbols ``variables``.

    Raises ExpressionError (a ValueError) naming the offending token and its column for anything
    outside the allowlist or over a limit; nothing in ``text`` is ever executed.
    """
    if not isinstance(text, str):
        raise ExpressionError(f"must be a string, not {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"longer than {MAX_LENGTH} characters ({len(text)})")
    if not text.strip():
        raise ExpressionError("is empty")
    source = text.strip()
    if "\n" in source or "\r" in source:
        raise ExpressionError("must be on one line")
    try:
        tree = parse_python(source, mode="eval")
    except SyntaxError as exc:
        column = exc.offset or 1
        token = source[column - 1 : column] or "end of text"
        raise ExpressionError(f"invalid syntax at '{token}' (column {column})") from None
    except ParserRaceError:
        raise ExpressionError("could not be parsed: Python's parser kept failing") from None
    except (RecursionError, MemoryError, ValueError):
        raise ExpressionError("too deeply nested or not parseable") from None
    _check_size(tree.body, source)
    builder = _Builder(source, {name: variable(name) for name in variables})
    expr = builder.build(tree.body)
    if _is_condition(expr):
        raise ExpressionError("is a condition, not a number-valued expression")
    if expr.has(sp.zoo, sp.nan, sp.oo, -sp.oo):
        raise ExpressionError("is undefined or infinite (division by zero?)")
    if expr.has(sp.I):
        raise ExpressionError("is not real (e.g. the root or logarithm of a negative constant)")
    return expr


def _is_condition(value: sp.Basic) -> bool:
    """Whether a built value is a truth value (a comparison, and/or/not, True) not a number."""
    boolalg = sp.logic.boolalg
    return isinstance(
        value, (sp.core.relational.Relational, boolalg.BooleanAtom, boolalg.BooleanFunction)
    )


_MARKERS = (ast.expr_context, ast.operator, ast.unaryop, ast.cmpop, ast.boolop)
"""Syntax nodes that only mark an operator or context (not counted against the limits)."""


def _check_size(root: ast.AST, source: str) -> None:
    """Refuse trees over the node or depth limits (iteratively: no recursion on hostile input)."""
    count = 0
    stack: list[tuple[ast.AST, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise ExpressionError(f"has more than {MAX_NODES} syntax nodes")
        if depth > MAX_DEPTH:
            raise ExpressionError(
                f"nested deeper than {MAX_DEPTH} levels at {_where(node, source)}"
            )
        stack.extend(
            (child, depth + 1)
            for child in ast.iter_child_nodes(node)
            if not isinstance(child, _MARKERS)
        )


def _where(node: ast.AST, source: str) -> str:
    """'token' (column N) for a node, the token cut to 30 characters."""
    segment = ast.get_source_segment(source, node) or type(node).__name__
    if len(segment) > 30:
        segment = segment[:27] + "..."
    column = getattr(node, "col_offset", 0) + 1
    return f"'{segment}' (column {column})"


class _Builder:
    """Builds SymPy from an allowlisted ``ast`` tree; refuses every other node kind."""

    def __init__(self, source: str, symbols: dict[str, sp.Symbol]) -> None:
        self.source = source
        self.symbols = symbols

    def fail(self, node: ast.AST, problem: str) -> ExpressionError:
        return ExpressionError(f"{problem}: {_where(node, self.source)}")

    def build(self, node: ast.AST, condition: bool = False) -> sp.Basic:
        if isinstance(node, ast.Constant):
            return self.constant(node, condition)
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, ast.UnaryOp):
            return self.unary(node, condition)
        if isinstance(node, ast.BinOp):
            return self.binary(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        if condition and isinstance(node, ast.Compare):
            return self.compare(node)
        if condition and isinstance(node, ast.BoolOp):
            parts = [self.condition(value) for value in node.values]
            return sp.And(*parts) if isinstance(node.op, ast.And) else sp.Or(*parts)
        if isinstance(node, (ast.Compare, ast.BoolOp)):
            raise self.fail(node, "comparisons are only allowed in Piecewise conditions")
        raise self.fail(node, f"not allowed ({_describe(node)})")

    def expr(self, node: ast.AST) -> sp.Expr:
        """A number-valued subexpression."""
        value = self.build(node)
        if _is_condition(value):
            raise self.fail(node, "expected a number-valued expression")
        return value

    def condition(self, node: ast.AST) -> sp.Basic:
        """A Piecewise condition (comparison, and/or/not, True)."""
        value = self.build(node, condition=True)
        if not _is_condition(value):
            raise self.fail(node, "expected a condition (a comparison or True)")
        return value

    def constant(self, node: ast.Constant, condition: bool) -> sp.Basic:
        value = node.value
        if isinstance(value, bool):
            if condition:
                return sp.true if value else sp.false
            raise self.fail(node, "True/False are only allowed as Piecewise conditions")
        if isinstance(value, int):
            if abs(value) >= 10**MAX_INT_DIGITS:
                raise self.fail(node, f"integer literal longer than {MAX_INT_DIGITS} digits")
            return sp.Integer(value)
        if isinstance(value, float):
            if not math.isfinite(value) or abs(value) > MAX_FLOAT:
                raise self.fail(node, f"float literal overflows (limit {MAX_FLOAT:g})")
            return _decimal(value)
        raise self.fail(node, f"not allowed ({type(value).__name__} literal)")

    def name(self, node: ast.Name) -> sp.Expr:
        if node.id in self.symbols:
            return self.symbols[node.id]
        if node.id in CONSTANTS:
            return CONSTANTS[node.id]
        if node.id in FUNCTIONS:
            raise self.fail(node, f"function '{node.id}' used without arguments")
        known = ", ".join(sorted(self.symbols)) or "none"
        raise self.fail(node, f"unknown name (variables: {known}; constants: pi, E)")

    def unary(self, node: ast.UnaryOp, condition: bool) -> sp.Basic:
        if isinstance(node.op, ast.Not):
            if not condition:
                raise self.fail(node, "'not' is only allowed in Piecewise conditions")
            return sp.Not(self.condition(node.operand))
        if isinstance(node.op, ast.USub):
            return -self.expr(node.operand)
        if isinstance(node.op, ast.UAdd):
            return self.expr(node.operand)
        raise self.fail(node, "operator not allowed (only + - * / ** and unary minus)")

    def binary(self, node: ast.BinOp) -> sp.Expr:
        if type(node.op) not in _BINARY:
            raise self.fail(node, "operator not allowed (only + - * / ** and unary minus)")
        left, right = self.expr(node.left), self.expr(node.right)
        if isinstance(node.op, ast.Add):
            return left + right
        if isinstance(node.op, ast.Sub):
            return left - right
        if isinstance(node.op, ast.Mult):
            return left * right
        if isinstance(node.op, ast.Div):
            if right == 0:
                raise self.fail(node, "division by zero")
            return left / right
        return self.power(node, left, right)

    def power(self, node: ast.BinOp, base: sp.Expr, exponent: sp.Expr) -> sp.Expr:
        """base**exponent, refusing constant exponents that are not small numbers."""
        if not exponent.free_symbols:
            if not exponent.is_Number:
                raise self.fail(
                    node.right, "a constant exponent must be a plain number (no power towers)"
                )
            if abs(exponent) > MAX_EXPONENT:
                raise self.fail(node.right, f"constant exponent larger than {MAX_EXPONENT}")
            if base == 0 and exponent <= 0:
                raise self.fail(node, "zero to a non-positive power")
            if base.is_Number and base != 0:
                digits = float(abs(exponent)) * abs(math.log10(abs(_as_python(base))))
                if digits > MAX_POWER_DIGITS:
                    raise self.fail(node, f"constant power beyond 1e{MAX_POWER_DIGITS}")
        elif not base.free_symbols and base.is_Number and abs(base) > 10**6:
            raise self.fail(node.left, "base of a variable power larger than 1e6")
        return sp.Pow(base, exponent)

    def call(self, node: ast.Call) -> sp.Expr:
        if not isinstance(node.func, ast.Name):
            raise self.fail(node.func, "only calls of the allowed functions by name")
        name = node.func.id
        if node.keywords:
            raise self.fail(node.keywords[0], "keyword arguments are not allowed")
        if any(isinstance(arg, ast.Starred) for arg in node.args):
            raise self.fail(node, "starred arguments are not allowed")
        if name == "Piecewise":
            return self.piecewise(node)
        if name in _UNARY:
            if len(node.args) != 1:
                raise self.fail(node, f"{name} takes one argument, not {len(node.args)}")
            return _UNARY[name](self.expr(node.args[0]))
        if name in _VARIADIC:
            if len(node.args) < 2:
                raise self.fail(node, f"{name} takes at least two arguments")
            return _VARIADIC[name](*(self.expr(arg) for arg in node.args))
        allowed = ", ".join(FUNCTIONS)
        raise self.fail(node.func, f"unknown function (allowed: {allowed})")

    def piecewise(self, node: ast.Call) -> sp.Expr:
        pieces = []
        for arg in node.args:
            if not isinstance(arg, ast.Tuple) or len(arg.elts) != 2:
                raise self.fail(arg, "Piecewise takes (value, condition) pairs")
            value, cond = arg.elts
            pieces.append((self.expr(value), self.condition(cond)))
        if not pieces or pieces[-1][1] != sp.true:
            raise self.fail(node, "Piecewise needs a last piece (value, True)")
        return sp.Piecewise(*pieces)

    def compare(self, node: ast.Compare) -> sp.Basic:
        parts = []
        left = self.expr(node.left)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            if type(op) not in _COMPARE:
                raise self.fail(node, "only < <= > >= == != comparisons")
            right = self.expr(right_node)
            parts.append(_COMPARE[type(op)](left, right))
            left = right
        return sp.And(*parts)


def _decimal(value: float) -> sp.Number:
    """A float literal as the exact number it was written as where that is a short decimal
    (``0.5`` is 1/2, ``2.0`` is 2: printed as such, exact in SymPy's algebra, the same double in
    the code), else a Float (``1e-300``, ``0.1234567891``)."""
    exact = sp.Rational(repr(value))
    if exact.q <= MAX_DECIMAL_DENOMINATOR and abs(exact.p) < 10**15:
        return exact
    return sp.Float(repr(value))


def _as_python(number: sp.Number) -> int | float:
    """A SymPy number as a Python int (exact, any size) or float, for magnitude checks."""
    if number.is_Integer:
        return int(number)
    if number.is_Rational:
        return max(abs(int(number.p)), abs(int(number.q)))
    return float(number)


def _describe(node: ast.AST) -> str:
    """A short name for a refused syntax element."""
    names = {
        ast.Attribute: "attribute access",
        ast.Subscript: "subscript",
        ast.Lambda: "lambda",
        ast.NamedExpr: "assignment expression",
        ast.JoinedStr: "f-string",
        ast.ListComp: "comprehension",
        ast.SetComp: "comprehension",
        ast.DictComp: "comprehension",
        ast.GeneratorExp: "comprehension",
        ast.List: "list",
        ast.Tuple: "tuple",
        ast.Dict: "dict",
        ast.Set: "set",
        ast.IfExp: "conditional expression; use Piecewise",
        ast.Starred: "starred argument",
        ast.Await: "await",
        ast.Yield: "yield",
        ast.Slice: "slice",
    }
    return names.get(type(node), type(node).__name__)
