"""Compose the screen (pygame): live camera with skeleton, the photo "card", hints, overlay.

Per frame the renderer blits the photo card (or crossfades two), draws the camera image into
its slot (the window framing.py chooses around the visitor; cropped, scaled and mirrored in one
pass; the only image scaled per frame), the skeleton,
the "step back" hint and the debug overlay, then rotates the canvas for portrait screens.
A card (photo + caption, or a message panel) is built once when the content changes.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from kiosk.app.screen.blit import CameraBlitter
from kiosk.app.screen.framing import Box, Framer
from kiosk.app.screen.layout import CoverMap, Layout, centred, make_layout
from kiosk.core.enums import ScreenLayout
from kiosk.pose.types import SKELETON, Pose

if TYPE_CHECKING:
    from kiosk.app.service.config import DisplayConfig

log = logging.getLogger(__name__)

BLACK = (0, 0, 0)
WHITE = (255, 255, 255)
PANEL_BG = (18, 18, 22)
#: The live view's background where the framed window goes past the camera image.
CALM_BG = (28, 28, 32)
SKELETON_RGB = (40, 230, 120)
JOINT_RGB = (255, 255, 255)
HINT_BG = (200, 60, 40)

PANELS = {
    "prompt": ("Strike a pose!", "the gallery answers with a photo of someone in the same pose"),
    "no_match": ("No good match", "try another pose"),
    "no_index": ("No index loaded", "deploy a gallery index (see `kiosk doctor`)"),
}
#: Caption lines at most: the title, then the credit and licence (ellipsized beyond).
CAPTION_TITLE_LINES = 1
CAPTION_CREDIT_LINES = 2
#: Cards (photo + caption, or a message panel) kept ready: a squat goes back and forth between a few.
CARD_CACHE = 8
ATTRACT_TEXT = "Step in front of the camera and strike a pose"
STEP_BACK_TEXT = "Step back so the camera sees all of you"


@dataclass
class Scene:
    """What to draw this frame."""

    frame: np.ndarray | None = None  # (H, W, 3) uint8 RGB camera frame, not mirrored
    mirror: bool = True
    pose: Pose | None = None  # main person, in the coordinates of the (mirrored) frame
    body: Box | None = None  # the visitor's box (same coordinates): the live view keeps it whole
    frame_t: float = 0.0  # the frame's camera time (s; media time for a replay): framing's reach
    content: Hashable = ("panel", "prompt")  # ("photo", ...unique key) or ("panel", name)
    photo: Any = None  # pygame Surface for a ("photo", ...) content
    caption: tuple[str, str] | None = None  # (title, credit)
    step_back: bool = False
    attract: bool = False
    #: the debug overlay's lines, given whether this frame shows a crossfade in progress (known
    #: only once the renderer has started or ended the fade)
    debug: Callable[[bool], Sequence[str]] | None = None
    now: float = 0.0  # display clock (s): crossfades run on it


def fit_line(font: Any, text: str, width: int) -> str:
    """text, shortened with an ellipsis to fit `width` pixels of `font` (font.size(text) -> (w, h))."""
    if font.size(text)[0] <= width:
        return text
    lo, hi = 0, len(text)
    while lo < hi:  # longest prefix that fits with the ellipsis
        mid = (lo + hi + 1) // 2
        if font.size(text[:mid].rstrip() + "…")[0] <= width:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo].rstrip() + "…"


def wrap_lines(font: Any, text: str, width: int, max_lines: int) -> list[str]:
    """text word-wrapped into at most max_lines lines of `width` pixels; only what does not fit
    on the last line is shortened with an ellipsis (a single word longer than a line too)."""
    words: list[str] = text.split()
    lines: list[str] = []
    while words and len(lines) < max_lines:
        line = words.pop(0)
        while words and font.size(f"{line} {words[0]}")[0] <= width:
            line = f"{line} {words.pop(0)}"
        if len(lines) == max_lines - 1 and words:
            line = f"{line} {' '.join(words)}"  # the rest goes on the last line, ellipsized
            words = []
        lines.append(fit_line(font, line, width))
    return lines


class Renderer:
    def __init__(self, config: DisplayConfig, screen: tuple[int, int], *, keypoint_threshold: float = 0.3,
                 target: Any = None) -> None:
        import pygame

        if not pygame.font.get_init():
            pygame.font.init()
        self.pg = pygame
        self.screen = (int(screen[0]), int(screen[1]))
        self.keypoint_threshold = keypoint_threshold
        self._target = target
        self._camera_size: tuple[int, int] | None = None
        self._card: Any = None
        self._card_key: Hashable = None
        self._fading = False
        self._fade_start = 0.0
        self._fade_w = 0.0  # the new card's weight on the canvas so far
        self._framer = Framer()
        #: where the camera image went on the last frame (None: no frame)
        self.view: CoverMap | None = None
        self._blitter = CameraBlitter()
        #: the last render's parts (ms): card (the photo half: fade, first blit or repairs),
        #: camera (the live image), overlay (skeleton, hints, debug text), rotate
        self.timings: dict[str, float] = {}
        self.configure(config)

    # ---- configuration -----------------------------------------------------------------
    def configure(self, config: DisplayConfig) -> None:
        pg = self.pg
        self.config = config
        self.layout: Layout = make_layout(config, self.screen, self._camera_size)
        cw, ch = self.layout.canvas
        if self.layout.rotation == 0 and self._target is not None and self._target.get_size() == (cw, ch):
            self.canvas = self._target
        else:
            self.canvas = pg.Surface((cw, ch))
        m = min(cw, ch)
        self.font_title = pg.font.Font(None, max(m // 24, 12))
        self.font_small = pg.font.Font(None, max(m // 36, 10))
        self.font_big = pg.font.Font(None, max(m // 14, 14))
        self.font_debug = pg.font.Font(None, max(m // 40, 10))
        self._hint = self._banner(STEP_BACK_TEXT, HINT_BG)
        self._attract_banner = self._banner(ATTRACT_TEXT, (30, 30, 36))
        self._framer = Framer()
        self._card_key = None  # rebuild the cards at the new size
        self._fading = False
        self._overlays: list[Any] = []  # rects drawn over the canvas last frame (banners, overlay)
        self._cards: OrderedDict[Hashable, Any] = OrderedDict()
        self._card_on_canvas = False

    def pixel_format(self) -> Any:
        """A 1x1 surface in the canvas's pixel format (for converting photos in another thread)."""
        return self.pg.Surface((1, 1), 0, self.canvas)

    @property
    def photo_slot(self) -> tuple[int, int]:
        return self.layout.photo.size

    @property
    def fading(self) -> bool:
        """A crossfade is in progress: the photo half is a blend of the old and the new card."""
        return self._fading

    @property
    def card_key(self) -> Hashable:
        """The content whose card the photo half shows (or is fading in)."""
        return self._card_key

    def _banner(self, text: str, bg: tuple[int, int, int]) -> Any:
        label = self.font_title.render(text, True, WHITE)
        pad = label.get_height() // 2
        surf = self.pg.Surface((label.get_width() + 2 * pad, label.get_height() + pad))
        surf.fill(bg)
        surf.blit(label, (pad, pad // 2))
        return surf

    # ---- cards ------------------------------------------------------------------------------
    def _make_card(self, scene: Scene) -> Any:
        pg = self.pg
        rect = self.layout.photo
        card = pg.Surface(rect.size)
        kind, what = scene.content[:2] if isinstance(scene.content, tuple) else ("panel", "prompt")
        if kind == "photo" and scene.photo is not None:
            card.fill(BLACK)
            pw, ph = scene.photo.get_size()
            card.blit(scene.photo, ((rect.w - pw) // 2, (rect.h - ph) // 2))
            if self.config.caption and scene.caption:
                self._draw_caption(card, *scene.caption)
            return card
        card.fill(PANEL_BG)
        title, sub = PANELS.get(str(what), (str(what), ""))
        big = self.font_big.render(title, True, WHITE)
        small = self.font_small.render(sub, True, (190, 190, 190))
        y = rect.h // 2 - big.get_height()
        card.blit(big, ((rect.w - big.get_width()) // 2, y))
        card.blit(small, ((rect.w - small.get_width()) // 2, y + big.get_height() + small.get_height() // 2))
        return card

    def _draw_caption(self, card: Any, title: str, credit: str) -> None:
        pg = self.pg
        w, h = card.get_size()
        pad = self.font_small.get_height() // 2
        lines = [*self._wrap_text(self.font_title, title, WHITE, w - 2 * pad, CAPTION_TITLE_LINES),
                 *self._wrap_text(self.font_small, credit, (210, 210, 210), w - 2 * pad,
                                  CAPTION_CREDIT_LINES)]
        if not lines:
            return
        band_h = sum(s.get_height() for s in lines) + 2 * pad
        band = pg.Surface((w, band_h))
        band.fill(BLACK)
        band.set_alpha(150)
        card.blit(band, (0, h - band_h))
        y = h - band_h + pad
        for s in lines:
            card.blit(s, (pad, y))
            y += s.get_height()

    @classmethod
    def _wrap_text(cls, font: Any, text: str, colour: tuple[int, int, int], width: int,
                   max_lines: int) -> list[Any]:
        return [font.render(line, True, colour) for line in wrap_lines(font, text, width, max_lines)]

    # ---- per frame ------------------------------------------------------------------------------
    def render(self, scene: Scene) -> Any:
        """Compose the scene; returns the surface to show (the display's own canvas when possible)."""
        pg = self.pg
        if scene.frame is not None:
            size = (scene.frame.shape[1], scene.frame.shape[0])
            if size != self._camera_size:
                self._camera_size = size
                if self.config.layout == ScreenLayout.FULL_MIRROR:
                    self.configure(self.config)
        if scene.content != self._card_key:
            had_card = self._card is not None and (self._card_on_canvas or self._fading)
            self._card = self._cards.get(scene.content)
            if self._card is None:
                self._card = self._cards[scene.content] = self._make_card(scene)
                while len(self._cards) > CARD_CACHE:
                    self._cards.popitem(last=False)
            self._cards.move_to_end(scene.content)
            self._card_key = scene.content
            self._card_on_canvas = False
            # crossfade from whatever the canvas shows (a photo, or a fade cut short)
            self._fading = self.config.crossfade_ms > 0 and had_card
            # the fade's first frame already carries one frame's worth of the new card: the frame
            # reported as the switch shows the new photo (fading in), not the old one unchanged
            self._fade_start, self._fade_w = scene.now - self._frame_s(), 0.0
        t0 = time.perf_counter()
        canvas, lay = self.canvas, self.layout
        photo_pos = (lay.photo.x, lay.photo.y)
        if self._fading:  # what is drawn over the photo meanwhile is repaired when the fade ends
            self._fade_step(scene.now, photo_pos)
        if not self._fading and not self._card_on_canvas:
            canvas.blit(self._card, photo_pos)
            self._card_on_canvas = True
        elif not self._fading:  # the card is still there: repair what was drawn over it last frame
            for r in self._overlays:
                canvas.blit(self._card, r.topleft, area=r.move(-photo_pos[0], -photo_pos[1]))
        self._overlays.clear()
        t1 = time.perf_counter()
        t2 = t1
        if scene.frame is not None:
            cmap = self._draw_camera(scene.frame, scene.mirror, scene.body, scene.frame_t)
            t2 = time.perf_counter()
            if scene.pose is not None and self.config.show_skeleton:
                self._draw_skeleton(scene.pose, cmap)
        else:
            self.view = None
            pg.draw.rect(canvas, BLACK, lay.camera.as_tuple())
        if scene.attract:
            self._blit_banner(self._attract_banner, top=True)
        elif scene.step_back and self.config.step_back_hint:
            self._blit_banner(self._hint, top=lay.inset)
        if self.config.debug_overlay and scene.debug is not None:
            self._draw_debug(scene.debug(self._fading))
        t3 = time.perf_counter()
        out = pg.transform.rotate(canvas, -lay.rotation) if lay.rotation else canvas
        self.timings = {"card": (t1 - t0) * 1000.0, "camera": (t2 - t1) * 1000.0,
                        "overlay": (t3 - t2) * 1000.0, "rotate": (time.perf_counter() - t3) * 1000.0}
        return out

    def _frame_s(self) -> float:
        """One displayed frame (s) at display.max_fps (60 when uncapped)."""
        return 1.0 / (self.config.max_fps if self.config.max_fps > 0 else 60)

    def _fade_step(self, now: float, pos: tuple[int, int]) -> None:
        """Blend the new card over the canvas so that its weight grows linearly with time: one
        alpha blit per frame (weight w after w_prev: alpha = (w - w_prev) / (1 - w_prev))."""
        w = (now - self._fade_start) * 1000.0 / self.config.crossfade_ms
        if w >= 1.0:
            self._fading = False
            self._card_on_canvas = False  # the opaque blit that follows ends the fade exactly
            return
        if w > self._fade_w:
            alpha = (w - self._fade_w) / (1.0 - self._fade_w)
            self._card.set_alpha(max(1, round(255 * alpha)))
            self.canvas.blit(self._card, pos)
            self._card.set_alpha(None)
            self._fade_w = w

    def _draw_camera(self, frame: np.ndarray, mirror: bool, body: Box | None, t: float) -> CoverMap:
        pg = self.pg
        rect = self.layout.camera
        h, w = frame.shape[:2]
        cmap = self._framer.view(w, h, rect, body, t)
        if self.layout.inset:
            pg.draw.rect(self.canvas, WHITE, (rect.x - 2, rect.y - 2, rect.w + 4, rect.h + 4))
        if cmap.dest != rect:
            pg.draw.rect(self.canvas, CALM_BG, rect.as_tuple())
        self._blitter.blit(self.canvas, frame, cmap, mirror)
        self.view = cmap
        return cmap

    def _draw_skeleton(self, pose: Pose, cmap: CoverMap) -> None:
        pg = self.pg
        ok = pose.scores >= self.keypoint_threshold
        pts = [cmap.point(float(x), float(y)) for x, y in pose.xy]
        width = max(self.layout.camera.h // 160, 2)
        clip = self.canvas.get_clip()
        self.canvas.set_clip(self.layout.camera.as_tuple())
        for a, b in SKELETON:
            if ok[a] and ok[b]:
                pg.draw.line(self.canvas, SKELETON_RGB, pts[a], pts[b], width)
        for i, p in enumerate(pts):
            if ok[i]:
                pg.draw.circle(self.canvas, JOINT_RGB, p, width + 1)
        self.canvas.set_clip(clip)

    def _blit_banner(self, banner: Any, *, top: bool) -> None:
        lay = self.layout
        area = lay.camera if not lay.inset else lay.photo
        bw, bh = banner.get_size()
        x = centred(bw, bh, area)[0]
        margin = bh // 2
        y = area.y + margin if top else area.y + area.h - bh - margin
        self._overlays.append(self.canvas.blit(banner, (max(x, 0), y)))

    def _draw_debug(self, lines: Sequence[str]) -> None:
        y = 4
        for line in lines:
            s = self.font_debug.render(line, True, (255, 255, 0), BLACK)
            self._overlays.append(self.canvas.blit(s, (4, y)))
            y += s.get_height()
