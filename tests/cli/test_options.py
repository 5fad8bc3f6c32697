"""kiosk.cli.options: the shared option value types."""

from __future__ import annotations

import argparse

import pytest

from kiosk.cli.options import int_at_least


@pytest.mark.parametrize(("minimum", "text", "value"), [(0, "0", 0), (0, "42", 42), (1, "1", 1)])
def test_a_whole_number_at_the_bound_or_above_is_taken(minimum: int, text: str, value: int) -> None:
    assert int_at_least(minimum)(text) == value


@pytest.mark.parametrize(("minimum", "text", "message"), [
    (0, "-1", "-1 must be at least 0"),
    (1, "0", "0 must be at least 1"),
    (1, "two", "'two' is not a whole number"),
    (0, "1.5", "'1.5' is not a whole number"),
])
def test_anything_else_is_refused_with_the_value_named(minimum: int, text: str, message: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=message):
        int_at_least(minimum)(text)
