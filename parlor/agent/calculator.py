"""Exact arithmetic on an expression, by walking its syntax tree (never `eval`): integers of any
size and fractions, with bounds so no expression can eat the CPU or memory."""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable
from fractions import Fraction

MAX_CHARS = 500
MAX_DIGITS = 5_000  # of any intermediate numerator or denominator
MAX_EXPONENT = 10_000

_BINARY: dict[type[ast.operator], Callable[[Fraction, Fraction], Fraction]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
}
_SIGNS = {"\u00d7": "*", "\u00f7": "/", "\u2212": "-", "^": "**"}  # multiplication, division, minus signs
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")


class CalculatorError(ValueError):
    pass


def evaluate(expression: str) -> Fraction:
    text = _normalise(expression)
    if not text:
        raise CalculatorError("the expression is empty")
    if len(text) > MAX_CHARS:
        raise CalculatorError(f"the expression is longer than {MAX_CHARS} characters")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        raise CalculatorError(f"not an arithmetic expression: {expression!r}") from None
    return _value(tree.body)


def format_result(value: Fraction) -> dict[str, str]:
    """The exact result (a string: JSON numbers lose big integers), plus a decimal for fractions."""
    if value.denominator == 1:
        return {"result": str(value.numerator)}
    return {"result": f"{value.numerator}/{value.denominator}", "decimal": _decimal(value)}


def _normalise(expression: str) -> str:
    text = expression.strip()
    for sign, operator_ in _SIGNS.items():
        text = text.replace(sign, operator_)
    return _THOUSANDS.sub("", text)


def _value(node: ast.expr) -> Fraction:
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return _checked(Fraction(str(node.value)))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        operand = _value(node.operand)
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.BinOp):
        left, right = _value(node.left), _value(node.right)
        if isinstance(node.op, ast.Pow):
            return _power(left, right)
        if isinstance(node.op, ast.Div | ast.FloorDiv | ast.Mod) and right == 0:
            raise CalculatorError("division by zero")
        if isinstance(node.op, ast.FloorDiv):
            return Fraction(left // right)
        if isinstance(node.op, ast.Mod):
            return _checked(left % right)
        operation = _BINARY.get(type(node.op))
        if operation is not None:
            return _checked(operation(left, right))
    raise CalculatorError(f"unsupported in arithmetic: {ast.unparse(node)!r}")


def _power(base: Fraction, exponent: Fraction) -> Fraction:
    if exponent.denominator != 1:
        raise CalculatorError("only whole-number exponents give exact results")
    power = exponent.numerator
    if abs(power) > MAX_EXPONENT:
        raise CalculatorError(f"the exponent is over {MAX_EXPONENT}")
    if base == 0 and power < 0:
        raise CalculatorError("division by zero")
    digits = max(len(str(abs(base.numerator))), len(str(base.denominator)))
    if base not in (0, 1, -1) and (digits - 1) * abs(power) > MAX_DIGITS:
        raise CalculatorError(f"the result would have more than {MAX_DIGITS} digits")
    return _checked(base**power)


def _checked(value: Fraction) -> Fraction:
    if max(value.numerator.bit_length(), value.denominator.bit_length()) > MAX_DIGITS * 3.33:
        raise CalculatorError(f"the result would have more than {MAX_DIGITS} digits")
    return value


def _decimal(value: Fraction, places: int = 20) -> str:
    sign = "-" if value < 0 else ""
    whole, remainder = divmod(abs(value.numerator), value.denominator)
    digits = []
    for _ in range(places):
        remainder *= 10
        digit, remainder = divmod(remainder, value.denominator)
        digits.append(str(digit))
        if remainder == 0:
            break
    fraction = "".join(digits).rstrip("0") or "0"
    return f"{sign}{whole}.{fraction}" + ("…" if remainder else "")
