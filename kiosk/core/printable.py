"""Text from the disk shown on one terminal or journal line, as it is and no more.

A file name may hold any byte but "/" and NUL: a newline (which would forge a second line of a
build summary), a terminal escape (which would repaint the operator's screen), a right-to-left
override (which would show "gpj.exe" as "exe.jpg"), or bytes that are not UTF-8 (which Python
keeps as lone surrogates, and which a UTF-8 terminal cannot print). `printable` shows each such
character as its Python escape (``\\n``, ``\\x1b``, ``\\u202e``, ``\\udcff``), so a name reads as
what it is and a line stays one line; printable text, accented or not, is left alone.
"""

from __future__ import annotations

__all__ = ["printable"]


def printable(text: str) -> str:
    """text with every character str.isprintable() rejects (controls, format characters,
    line and paragraph separators, lone surrogates) written as its Python escape; a plain space
    stays."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)
