"""The one YAML loader for every YAML file the project reads (config, sidecar metadata, manifests).

    data = load_yaml(path)          # raises YamlRefused (a ValueError) with one clear sentence

On top of PyYAML's safe loader it refuses, with the line number:
  * anything but strict UTF-8 (UTF-16/32, binary, a stray Latin-1 byte): "save it as UTF-8";
  * anchors and aliases (`&a`, `*a`): a few hundred bytes of nested aliases expand to gigabytes,
    and no file of this project needs them;
  * nesting deeper than MAX_DEPTH;
  * duplicate keys in a mapping (naming both lines), which YAML would otherwise resolve last-wins.
The file itself is read through kiosk.core.safefile (regular file only, size cap).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.events import AliasEvent, CollectionStartEvent, ScalarEvent

from kiosk.core.safefile import CONFIG_LIMIT, read_bytes

__all__ = ["MAX_DEPTH", "YamlRefused", "decode_utf8", "load_yaml", "parse_yaml"]

MAX_DEPTH = 32

_BOMS = ((b"\xff\xfe\x00\x00", "UTF-32"), (b"\x00\x00\xfe\xff", "UTF-32"), (b"\xff\xfe", "UTF-16"),
         (b"\xfe\xff", "UTF-16"))


class YamlRefused(ValueError):
    """A YAML file that is not read; `line` is 1-based where known."""

    def __init__(self, source: str, problem: str, line: int | None = None) -> None:
        self.source, self.problem, self.line = source, problem, line
        where = f"line {line}: " if line else ""
        super().__init__(f"{source}: {where}{problem}")


def _line(mark: Any) -> int | None:
    return mark.line + 1 if mark is not None else None


def decode_utf8(data: bytes, source: str) -> str:
    """Strict UTF-8 text (a UTF-8 BOM is dropped); raises YamlRefused naming the first bad byte."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            raise YamlRefused(source, f"the file is {name}; save it as UTF-8")
    if b"\x00" in data:
        raise YamlRefused(source, "the file holds NUL bytes (binary or UTF-16); save it as UTF-8 text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise YamlRefused(source, f"byte 0x{data[exc.start]:02x} is not valid UTF-8; save the file "
                          "as UTF-8", line) from None
    return text.removeprefix("\ufeff")


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader without anchors/aliases, with a nesting limit and duplicate-key detection."""

    def __init__(self, stream: str, source: str) -> None:
        super().__init__(stream)
        self._source = source
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()  # type: ignore[no-untyped-call]  # PyYAML stubs leave it untyped
        if isinstance(event, AliasEvent) or (isinstance(event, ScalarEvent | CollectionStartEvent)
                                             and event.anchor):
            raise YamlRefused(self._source, "anchors and aliases (&name, *name) are not allowed; "
                              "write the value out in full", _line(event.start_mark))
        if isinstance(event, CollectionStartEvent):
            self._depth += 1
            if self._depth > MAX_DEPTH:
                raise YamlRefused(self._source, f"nested deeper than {MAX_DEPTH} levels",
                                  _line(event.start_mark))
            try:
                return super().compose_node(parent, index)
            finally:
                self._depth -= 1
        return super().compose_node(parent, index)

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: dict[Any, int | None] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
                duplicate = key in seen
            except TypeError:  # an unhashable key: PyYAML reports it below
                continue
            if duplicate:
                raise YamlRefused(self._source, f"duplicate key {key!r} (first at line {first}); "
                                  "keep one of them", _line(key_node.start_mark))
            seen[key] = _line(key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


def parse_yaml(text: str, source: str = "<yaml>") -> Any:
    """Parse one YAML document with the rules above; raises YamlRefused."""
    loader: _StrictLoader | None = None
    try:
        loader = _StrictLoader(text, source)
        return loader.get_single_data()
    except YamlRefused:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "syntax error"
        raise YamlRefused(source, f"not valid YAML ({problem})", _line(mark)) from None
    except yaml.reader.ReaderError as exc:
        raise YamlRefused(source, f"not valid YAML text ({exc.reason}: character #x{exc.character:04x}); "
                          "save it as plain UTF-8 text") from None
    except (yaml.YAMLError, ValueError, OverflowError, RecursionError, TypeError) as exc:
        raise YamlRefused(source, f"not valid YAML ({type(exc).__name__}: {exc})") from None
    finally:
        if loader is not None:
            loader.dispose()


def load_yaml(path: Path | str, *, max_bytes: int = CONFIG_LIMIT) -> Any:
    """Read (regular file, size cap), decode (strict UTF-8) and parse a YAML file.

    Raises YamlRefused for the content, kiosk.core.safefile.FileRefused for the file itself and
    OSError when it cannot be opened."""
    source = str(path)
    return parse_yaml(decode_utf8(read_bytes(Path(path), max_bytes=max_bytes), source), source)
