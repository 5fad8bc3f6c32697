"""Move Mirror kiosk: camera -> pose -> nearest archive photo -> fullscreen mirror."""

from __future__ import annotations

__version__ = "0.1.0"
