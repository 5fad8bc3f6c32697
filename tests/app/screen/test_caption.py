"""Captions on the photo card: wrapped onto a second line before anything is cut off."""

from __future__ import annotations

import pytest

from kiosk.app.screen.render import CAPTION_CREDIT_LINES, fit_line, wrap_lines

DEMO_CREDIT = "PoseNet demo photo, tensorflow/tfjs-models · Apache-2.0"
COCO_CREDIT = "Flickr photo, COCO 2017 (cocodataset.org) · CC BY-NC-SA 2.0"


@pytest.fixture(scope="module")
def font():
    import pygame

    pygame.font.init()
    return pygame.font.Font(None, 1080 // 36)  # the credit font on a 1920x1080 side-by-side screen


@pytest.mark.parametrize("credit", [DEMO_CREDIT, COCO_CREDIT])
@pytest.mark.parametrize("slot_w", [960, 640, 540])  # 1920x1080, the 1280x720 demo window, portrait
def test_credit_and_licence_are_never_cut_off(font, credit: str, slot_w: int) -> None:
    width = slot_w - 2 * (font.get_height() // 2)
    lines = wrap_lines(font, credit, width, CAPTION_CREDIT_LINES)
    assert " ".join(lines) == " ".join(credit.split())  # every word, nothing ellipsized
    assert all(font.size(line)[0] <= width for line in lines)
    assert lines[-1].endswith(credit.split()[-1])  # the licence is shown


def test_text_beyond_the_last_line_is_ellipsized(font) -> None:
    long = " ".join(["word"] * 80)
    lines = wrap_lines(font, long, 200, 2)
    assert len(lines) == 2 and lines[-1].endswith("…") and not lines[0].endswith("…")
    assert all(font.size(line)[0] <= 200 for line in lines)
    assert fit_line(font, "x" * 500, 100).endswith("…") and wrap_lines(font, "", 100, 2) == []
