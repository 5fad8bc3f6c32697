"""kiosk.core.safeyaml under hostile bytes: every input either parses or is refused with
YamlRefused (never another exception), alias bombs are refused in a memory-capped child process,
non-UTF-8 encodings, deep nesting and duplicate keys are named with their line."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.core.safeyaml import MAX_DEPTH, YamlRefused, decode_utf8, load_yaml, parse_yaml

CONFIG = Path(__file__).resolve().parents[2] / "config" / "kiosk.yaml"


def billion_laughs(levels: int = 9) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        refs = ", ".join([f"*a{i - 1}"] * 10)
        lines.append(f"a{i}: &a{i} [{refs}]")
    return "\n".join(lines) + "\n"


def parse_bytes(data: bytes) -> object:
    return parse_yaml(decode_utf8(data, "f.yaml"), "f.yaml")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_any_bytes_parse_or_are_refused(data: bytes) -> None:
    try:
        parse_bytes(data)
    except YamlRefused:
        pass


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_mutations_of_the_shipped_config_parse_or_are_refused(data: st.DataObject) -> None:
    raw = bytearray(CONFIG.read_bytes())
    for _ in range(data.draw(st.integers(1, 8))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.sampled_from(b"&*[]{}:-!|>%@`\"'\n\t #?,\x00\x80\xff"))
    try:
        parse_bytes(bytes(raw))
    except YamlRefused:
        pass


def test_a_billion_laughs_is_refused_within_a_memory_cap(tmp_path: Path) -> None:
    """A few hundred bytes that expand to 10^9 strings: refused at the first anchor. The child
    runs under a 1 GiB address-space limit and a time bound, so a regression fails, not hangs."""
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(billion_laughs())
    assert bomb.stat().st_size < 1000
    code = textwrap.dedent("""
        import resource, sys
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
        from kiosk.core.safeyaml import load_yaml, YamlRefused
        try:
            load_yaml(sys.argv[1])
        except YamlRefused as e:
            print("refused:", e)
    """)
    result = subprocess.run([sys.executable, "-c", code, str(bomb)], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert "refused:" in result.stdout and "aliases" in result.stdout and "line 1" in result.stdout


@pytest.mark.parametrize(("text", "words"), [
    ("a: &x 1\nb: *x\n", ["anchors and aliases", "line 1"]),
    ("a: 1\nb:\n  c: 2\n  c: 3\n", ["duplicate key 'c'", "first at line 3", "line 4"]),
    ("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), ["nested deeper"]),
    ("a: {b: [1, 2}\n", ["not valid YAML", "line 1"]),
    ("x: " + "9" * 5000 + "\n", ["not valid YAML"]),
    ("<<: {a: 1}\n", ["not valid YAML"]),  # a merge key needs a mapping to merge
])
def test_structural_refusals_name_the_line(text: str, words: list[str]) -> None:
    with pytest.raises(YamlRefused) as err:
        parse_yaml(text, "kiosk.yaml")
    for word in words:
        assert word in str(err.value)


@pytest.mark.parametrize(("data", "words"), [
    ("display:\n  width: 1920\n".encode("utf-16"), ["UTF-16", "UTF-8"]),
    ("display:\n  width: 1920\n".encode("utf-32"), ["UTF-32"]),
    ("title: caf\xe9\n".encode("latin-1"), ["0xe9", "line 1", "UTF-8"]),
    (b"a: 1\nb: \xff\xfe\x00\x01", ["NUL"]),
    (bytes(range(256)), ["NUL"]),
])
def test_encodings_other_than_utf8_are_refused(tmp_path: Path, data: bytes, words: list[str]) -> None:
    path = tmp_path / "kiosk.yaml"
    path.write_bytes(data)
    with pytest.raises(YamlRefused) as err:
        load_yaml(path)
    for word in words:
        assert word in str(err.value)


def test_utf8_with_bom_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "meta.yaml"
    path.write_bytes("\ufefftitle: café\n".encode())
    assert load_yaml(path) == {"title": "café"}
