from __future__ import annotations

import subprocess
import sys

from kiosk.cli.main import build_parser, main


def test_help_lists_commands() -> None:
    text = build_parser().format_help()
    assert "kiosk" in text


def test_no_command_is_usage_error() -> None:
    assert main([]) == 2


def test_module_entry_point_runs() -> None:
    out = subprocess.run([sys.executable, "-m", "kiosk", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("kiosk ")
