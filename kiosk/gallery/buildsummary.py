"""What `kiosk index build` did: counts, skipped and rejected sources, curator warnings."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk.core.printable import printable
from kiosk.gallery import quality as qa


@dataclass
class BuildSummary:
    out_dir: Path
    index_id: str = ""
    sources_read: int = 0
    sources_extracted: list[str] = field(default_factory=list)  # the model ran on these
    sources_cached: list[str] = field(default_factory=list)  # poses came from the cache
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, reason), not indexed
    sources_unreadable: int = 0
    frames_seen: int = 0
    entries: int = 0
    mirrored_entries: int = 0
    discarded: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    upscaled: list[tuple[str, float]] = field(default_factory=list)  # (source, factor > UPSCALE_WARN)
    uncaptioned: list[tuple[str, list[str]]] = field(default_factory=list)  # (source, missing fields)
    no_entries: list[tuple[str, str]] = field(default_factory=list)  # (source read, why nothing kept)

    @property
    def frames_per_second(self) -> float:
        return self.frames_seen / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "out_dir": str(self.out_dir),
            "index_id": self.index_id,
            "sources_read": self.sources_read,
            "sources_extracted": len(self.sources_extracted),
            "sources_cached": len(self.sources_cached),
            "frames_seen": self.frames_seen,
            "entries": self.entries,
            "mirrored_entries": self.mirrored_entries,
            "discarded": {r: self.discarded[r] for r in sorted(self.discarded)},
            "sources_unreadable": self.sources_unreadable,
            "skipped": [{"file": f, "reason": r} for f, r in self.skipped],
            "rejected_sources": [{"file": f, "reason": r} for f, r in self.no_entries],
            "warnings": self.warnings(),
            "seconds": round(self.seconds, 3),
            "frames_per_second": round(self.frames_per_second, 2),
        }

    def format(self) -> str:
        lines = [
            f"index {self.index_id} -> {self.out_dir}",
            f"  sources read     {self.sources_read} ({len(self.sources_extracted)} extracted,"
            f" {len(self.sources_cached)} from cache)",
            f"  frames seen      {self.frames_seen} ({self.frames_per_second:.1f} frames/s,"
            f" {self.seconds:.1f} s)",
            f"  entries kept     {self.entries}"
            + (f" (incl. {self.mirrored_entries} mirrored)" if self.mirrored_entries else ""),
        ]
        for reason in sorted(self.discarded, key=lambda r: -self.discarded[r]):
            lines.append(f"  discarded        {self.discarded[reason]:5d}  {reason}")
        warned = [f"  warning          {w}" for w in self.warnings()]
        # a name (out_dir's, a warned source's) cannot break a line (rejects_lines: likewise)
        return "\n".join([*map(printable, lines), *rejects_lines(self.skipped, self.no_entries),
                          *map(printable, warned)])

    def warnings(self) -> list[str]:
        """Curator warnings: upscaled renditions, sources shown without credit or licence."""
        out = []
        by_source: dict[str, float] = {}
        for name, f in self.upscaled:
            by_source[name] = max(f, by_source.get(name, 0.0))
        for name, f in sorted(by_source.items(), key=lambda kv: -kv[1]):
            out.append(f"{name}: rendition upscaled {f:.1f}x (> {qa.UPSCALE_WARN:g}x looks blurry;"
                       " refuse with --max-upscale)")
        for name, missing in self.uncaptioned:
            what = ", ".join("title (only the file name)" if m == "title" else m for m in missing)
            out.append(f"{name}: no {what} (add a --metadata row)")
        return out


def rejects_lines(skipped: list[tuple[str, str]],
                  no_entries: list[tuple[str, str]] | None = None) -> list[str]:
    """One line per skipped file and per source read without an entry ((file, reason) each): its
    name and why, shown printable (kiosk.core.printable)."""
    lines = [f"  skipped file     {r if r.startswith(f) else f'{f}: {r}'}" for f, r in skipped]
    lines += [f"  rejected source  {f}: {r}" for f, r in no_entries or []]
    return [printable(line) for line in lines]
