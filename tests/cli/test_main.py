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


def test_every_subcommand_is_named_in_errors() -> None:
    """A command with actions keeps the chosen one under `<command>_command`: that is how an
    error's prefix names it ("kiosk eval match: ...", not "kiosk eval: ...")."""
    import argparse

    parser = build_parser()
    (top,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    for name, sub in top.choices.items():
        nested = [a for a in sub._actions if isinstance(a, argparse._SubParsersAction)]
        for action in nested:
            assert action.dest == f"{name}_command", name


def test_a_subcommand_s_error_names_it(tmp_path, capsys) -> None:
    bad = tmp_path / "ann.json"
    bad.write_text("[1, 2]")
    assert main(["eval", "match", "--images", str(tmp_path), "--coco", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"kiosk eval match: {bad}: not COCO person keypoint annotations (a JSON list")
