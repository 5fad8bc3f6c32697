"""load_config under hostile files: every failure is a ConfigError naming the file (and the key
path or line), never another exception; NaN and infinity are refused in every float key."""

from __future__ import annotations

import dataclasses
import os
import typing
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.app.service.config import ConfigError, KioskConfig, load_config, parse_config
from kiosk.app.service.schema import iter_docs

FLOAT_KEYS = [key for key, default, _ in iter_docs(KioskConfig) if isinstance(default, float)]


def nested(key: str, value: object) -> dict[str, object]:
    head, _, rest = key.partition(".")
    return {head: nested(rest, value) if rest else value}


def test_there_are_float_keys_to_check() -> None:
    assert len(FLOAT_KEYS) >= 10 and "status.interval_s" in FLOAT_KEYS


@pytest.mark.parametrize("key", FLOAT_KEYS)
@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf", ".NaN", "1.0e+999"])
def test_nan_and_infinity_are_refused_in_every_float_key(tmp_path: Path, key: str, value: str) -> None:
    path = tmp_path / "kiosk.yaml"
    parts = key.split(".")
    lines = [f"{'  ' * i}{p}:" for i, p in enumerate(parts)]
    path.write_text("\n".join(lines) + f" {value}\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert f"{key}: " in str(err.value) and "finite" in str(err.value)


@pytest.mark.parametrize(("text", "words"), [
    ("display:\n  width: 800\n  width: 900\n", ["line 3", "duplicate key 'width'", "first at line 2"]),
    ("display: &d\n  width: 800\nattract: *d\n", ["anchors and aliases", "line 1"]),
    ("x:\n" + "".join(f"{'  ' * i}a{i}:\n" for i in range(1, 60)), ["nested deeper"]),
])
def test_structure_problems_name_the_line(tmp_path: Path, text: str, words: list[str]) -> None:
    path = tmp_path / "kiosk.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(path) in str(err.value)
    for word in words:
        assert word in str(err.value)


@pytest.mark.parametrize(("make", "words"), [
    (lambda p: p.write_bytes("display:\n  width: 800\n".encode("utf-16")), ["UTF-16"]),
    (lambda p: p.write_bytes(b"display:\n  layout: caf\xe9\n"), ["line 2", "0xe9", "UTF-8"]),
    (lambda p: p.write_bytes(os.urandom(64) + b"\x00"), ["UTF-8"]),
    (lambda p: os.mkfifo(p), ["FIFO"]),
    (lambda p: p.mkdir(), ["directory"]),
    (lambda p: p.write_bytes(b"#" * (2 << 20)), ["limit"]),
    (lambda p: None, ["cannot read"]),
])
def test_unreadable_files_are_config_errors(tmp_path: Path, make, words: list[str]) -> None:
    path = tmp_path / "kiosk.yaml"
    make(path)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    for word in words:
        assert word in str(err.value)


def _leaves() -> list[tuple[str, type]]:
    out = []
    for key, _default, _doc in iter_docs(KioskConfig):
        cls: typing.Any = KioskConfig
        *sections, name = key.split(".")
        for s in sections:
            cls = typing.get_type_hints(cls)[s]
        out.append((key, typing.get_type_hints(cls)[name]))
    return out


VALUES = st.one_of(st.none(), st.booleans(), st.integers(-10**30, 10**30), st.floats(allow_nan=True),
                   st.text(max_size=20), st.lists(st.integers(), max_size=3),
                   st.dictionaries(st.text(max_size=5), st.integers(), max_size=2))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([k for k, _ in _leaves()] + ["nope", "display.nope"]), VALUES),
                max_size=6))
def test_any_values_give_a_valid_config_or_a_config_error(pairs: list[tuple[str, object]]) -> None:
    data: dict[str, typing.Any] = {}
    for key, value in pairs:
        head, _, rest = key.partition(".")
        if rest:
            section = data.setdefault(head, {})
            if isinstance(section, dict):
                section[rest] = value
        else:
            data[head] = value
    try:
        config = parse_config(data)
    except ConfigError as err:
        assert all(": " in p for p in err.problems)
        return
    for f in dataclasses.fields(config):
        assert dataclasses.is_dataclass(getattr(config, f.name))
