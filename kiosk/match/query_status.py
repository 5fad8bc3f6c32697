"""How a search kernel reports a bad query row, readable on both sides of the numba boundary.

A compiled kernel returns one int: OK (-1), or `encode(row, problem)` for the first bad query
row. `decode(status)` gives back (row, QueryProblem); `QueryProblem.describe` the message.
The plain-int constants (NONFINITE, ...) are what the numba kernels compare and return.
"""

from __future__ import annotations

from enum import IntEnum

OK = -1
#: status = row * STRIDE + problem (problem < STRIDE)
STRIDE = 4


class QueryProblem(IntEnum):
    NONFINITE = 1  # a NaN or infinite coordinate
    ZERO_VECTOR = 2  # a query of norm 0 (no direction to compare)
    BAD_CONFIDENCE = 3  # a confidence that is NaN, infinite or negative

    def describe(self) -> str:
        return _TEXT[self]


_TEXT = {
    QueryProblem.NONFINITE: "contains NaN or infinite values",
    QueryProblem.ZERO_VECTOR: "is a zero vector",
    QueryProblem.BAD_CONFIDENCE: "confidences must be finite and >= 0",
}

# Plain ints for the compiled kernels (numba freezes module globals at compile time).
NONFINITE = int(QueryProblem.NONFINITE)
ZERO_VECTOR = int(QueryProblem.ZERO_VECTOR)
BAD_CONFIDENCE = int(QueryProblem.BAD_CONFIDENCE)


def encode(row: int, problem: QueryProblem) -> int:
    return int(row) * STRIDE + int(problem)


def decode(status: int) -> tuple[int, QueryProblem]:
    """(row, problem) of a kernel status >= 0."""
    row, code = divmod(int(status), STRIDE)
    return row, QueryProblem(code)
