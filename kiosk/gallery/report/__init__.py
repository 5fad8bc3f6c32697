"""The curator's report on a built index: summary, rejects, quality warnings, contact sheets,
coverage and holes, as one self-contained HTML page (`kiosk index report`)."""

from __future__ import annotations

from kiosk.gallery.report.html import ReportInput, network_references, render, write

__all__ = ["ReportInput", "network_references", "render", "write"]
