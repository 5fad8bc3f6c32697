"""What the mirror wants on screen: a gallery entry, "no good match" or "nobody".

A `Target` is a small frozen value: `Target.photo(33)`, `NO_MATCH` or `NOBODY`; the entry id is
only present (and >= 0) for a photo, so an id can never be mistaken for a state.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import Enum

log = logging.getLogger(__name__)


class TargetKind(Enum):
    PHOTO = "photo"  # a gallery entry (Target.entry)
    NO_MATCH = "no_match"  # a visitor, but nothing close enough: never a random photo
    NOBODY = "nobody"  # no visitor


@dataclass(frozen=True)
class Target:
    kind: TargetKind
    entry: int | None = None

    def __post_init__(self) -> None:
        if (self.kind is TargetKind.PHOTO) != (self.entry is not None):
            raise ValueError(f"a {self.kind.value} target {'needs' if self.entry is None else 'has no'} "
                             "entry id")
        if self.entry is not None and self.entry < 0:
            raise ValueError(f"entry ids are >= 0, got {self.entry}")

    @classmethod
    def photo(cls, entry: int) -> Target:
        return cls(TargetKind.PHOTO, int(entry))

    @property
    def is_photo(self) -> bool:
        return self.kind is TargetKind.PHOTO

    def __str__(self) -> str:
        return f"entry{self.entry}" if self.is_photo else self.kind.value


NO_MATCH = Target(TargetKind.NO_MATCH)
NOBODY = Target(TargetKind.NOBODY)
