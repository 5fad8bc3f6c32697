"""A tiny validator that turns nested mappings (parsed YAML) into frozen dataclasses.

Each dataclass field may carry metadata:
    doc      one line documenting the key (config/kiosk.yaml mirrors it)
    min/max  inclusive numeric range
    gt       exclusive lower bound
    choices  allowed values
    check    callable(value) -> str | None  (an error message or None)

Unknown keys, wrong types and out-of-range values are all collected and reported
together, each with its dotted key path (e.g. `display.crossfade_ms`).
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

T = TypeVar("T")


class ConfigError(ValueError):
    """Configuration problems; `problems` lists one 'path: what is wrong' line each."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{source}: {len(problems)} configuration problem(s):\n{lines}")


def doc_field(default: Any, doc: str, **rules: Any) -> Any:
    """A dataclass field with a default, a documentation line and validation rules."""
    return dataclasses.field(default=default, metadata={"doc": doc, **rules})


def section(cls: type[T], doc: str) -> Any:
    """A nested dataclass section defaulting to its own defaults."""
    return dataclasses.field(default_factory=cls, metadata={"doc": doc})


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def _check_scalar(value: Any, tp: Any, path: str, meta: Mapping[str, Any]) -> tuple[Any, str | None]:
    if tp is bool:
        if not isinstance(value, bool):
            return value, f"{path}: expected true or false, got {value!r}"
    elif tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            return value, f"{path}: expected a whole number, got {value!r}"
    elif tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return value, f"{path}: expected a number, got {value!r}"
        try:
            value = float(value)
        except OverflowError:
            value = math.inf
        if not math.isfinite(value):
            return value, f"{path}: {value!r} is not a finite number (NaN and infinity are not allowed)"
    elif tp is str:
        if not isinstance(value, str):
            one_of = f" (one of: {', '.join(map(str, meta['choices']))})" if "choices" in meta else ""
            quote = (" (YAML reads a bare yes/no/on/off as true/false: quote it)"
                     if isinstance(value, bool) else "")
            return value, f"{path}: expected a string{one_of}, got {value!r}{quote}"
    if "choices" in meta and value not in meta["choices"]:
        allowed = ", ".join(str(c) for c in meta["choices"])
        return value, f"{path}: {value!r} is not one of: {allowed}"
    lo, hi, gt = meta.get("min"), meta.get("max"), meta.get("gt")
    if lo is not None and value < lo:
        return value, f"{path}: {value!r} is below the minimum {lo}"
    if hi is not None and value > hi:
        return value, f"{path}: {value!r} is above the maximum {hi}"
    if gt is not None and value <= gt:
        return value, f"{path}: {value!r} must be greater than {gt}"
    check = meta.get("check")
    if check is not None:
        message = check(value)
        if message:
            return value, f"{path}: {message}"
    return value, None


def build(cls: type[T], data: Any, path: str, problems: list[str]) -> T:
    """Build dataclass `cls` from `data`, appending problems; returns defaults where invalid."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        problems.append(f"{path or '(top level)'}: expected a mapping of keys, got {data!r}")
        return cls()
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    for key in data:
        if key not in fields:
            where = f"{path}.{key}" if path else str(key)
            known = ", ".join(fields)
            problems.append(f"{where}: unknown key (known keys here: {known})")
    kwargs: dict[str, Any] = {}
    for name, f in fields.items():
        if name not in data:
            continue
        where = f"{path}.{name}" if path else name
        tp = hints[name]
        value = data[name]
        if dataclasses.is_dataclass(tp):
            kwargs[name] = build(tp, value, where, problems)
            continue
        if isinstance(tp, types.UnionType):  # e.g. float | None
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if value is None:
                kwargs[name] = None
                continue
            tp = args[0]
        value, problem = _check_scalar(value, tp, where, f.metadata)
        if problem:
            problems.append(problem)
        else:
            kwargs[name] = value
    return cls(**kwargs)


def to_mapping(obj: Any) -> dict[str, Any]:
    """The dataclass as plain nested dicts (for `kiosk config show` and tests)."""
    return dataclasses.asdict(obj)


def iter_docs(cls: type, prefix: str = "") -> typing.Iterator[tuple[str, Any, str]]:
    """(dotted key, default, doc) for every leaf key of a config dataclass."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        key = f"{prefix}{f.name}"
        tp = hints[f.name]
        if dataclasses.is_dataclass(tp):
            yield from iter_docs(tp, key + ".")
        else:
            yield key, f.default, f.metadata.get("doc", "")
