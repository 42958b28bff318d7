"""The calculator tool's arithmetic: exact, bounded, and never `eval`."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parlor.agent.calculator import CalculatorError, evaluate, format_result


@pytest.mark.parametrize(("expression", "result"), [
    ("1234567 * 7654321", "9449772114007"),
    ("2 ** 200", str(2**200)),
    ("1/3 + 1/6", "1/2"),
    ("-(3 - 10) * 2", "14"),
    ("7 // 2", "3"),
    ("-7 % 3", "2"),
    ("0.1 + 0.2", "3/10"),
    ("1,234,567 \u00d7 2", "2469134"),
    ("2^10", "1024"),
    ("(2/3) ** -2", "9/4"),
])
def test_exact_results(expression: str, result: str) -> None:
    assert format_result(evaluate(expression))["result"] == result


def test_fractions_come_with_a_decimal() -> None:
    assert format_result(evaluate("1/3")) == {"result": "1/3", "decimal": "0.33333333333333333333…"}
    assert format_result(evaluate("-5/4")) == {"result": "-5/4", "decimal": "-1.25"}


@pytest.mark.parametrize(("expression", "message"), [
    ("1/0", "division by zero"),
    ("0 ** -1", "division by zero"),
    ("__import__('os').system('true')", "unsupported"),
    ("abs(-1)", "unsupported"),
    ("x + 1", "unsupported"),
    ("2 ** 0.5", "whole-number exponents"),
    ("10 ** 100000", "exponent"),
    ("99 ** 9999", "digits"),
    ("1 +", "not an arithmetic expression"),
    ("", "empty"),
    ("1" * 600, "longer than"),
    ("'a' * 3", "unsupported"),
    ("True + 1", "unsupported"),
])
def test_nonsense_is_a_clear_error(expression: str, message: str) -> None:
    with pytest.raises(CalculatorError, match=message):
        evaluate(expression)


numbers = st.integers(-10**12, 10**12).map(Fraction)


def expressions() -> st.SearchStrategy[tuple[str, Fraction]]:
    """Random expression trees with the value Python's fractions give them."""
    def combine(children: st.SearchStrategy[tuple[str, Fraction]]) -> st.SearchStrategy[tuple[str, Fraction]]:
        def apply(op: str, left: tuple[str, Fraction], right: tuple[str, Fraction]) -> tuple[str, Fraction]:
            value = {"+": left[1] + right[1], "-": left[1] - right[1], "*": left[1] * right[1]}.get(op)
            if op == "/":
                value = left[1] / right[1] if right[1] else left[1]
                return (f"({left[0]}) / ({right[0]})", value) if right[1] else left
            assert value is not None
            return f"({left[0]}) {op} ({right[0]})", value
        return st.builds(apply, st.sampled_from("+-*/"), children, children)

    leaves = numbers.map(lambda n: (str(n), n))
    return st.recursive(leaves, combine, max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(expressions())
def test_agrees_with_pythons_fractions(case: tuple[str, Fraction]) -> None:
    expression, expected = case
    assert evaluate(expression) == expected
