"""A name from the disk shown on one line: kiosk.core.printable."""

from __future__ import annotations

import pytest

from kiosk.core.printable import printable


@pytest.mark.parametrize(("text", "shown"), [
    ("photo.jpg", "photo.jpg"),
    ("café à la plage.jpg", "café à la plage.jpg"),  # printable text stays as it is
    ("new\nline.jpg", "new\\nline.jpg"),
    ("tab\there.jpg", "tab\\there.jpg"),
    ("\x1b[2Jwiped.jpg", "\\x1b[2Jwiped.jpg"),  # a terminal escape
    ("cover\u202egpj.exe", "cover\\u202egpj.exe"),  # a right-to-left override
    ("bad\udcffbyte.jpg", "bad\\udcffbyte.jpg"),  # a byte that is not UTF-8 (surrogateescape)
    ("line\u2028sep", "line\\u2028sep"),
])
def test_unprintable_characters_are_shown_as_escapes(text: str, shown: str) -> None:
    assert printable(text) == shown
    assert printable(text).isprintable()
    shown.encode("utf-8")  # a UTF-8 terminal can print it
