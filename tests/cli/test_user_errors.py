"""Tried as a new user would: no traceback for a user error in any subcommand, the exit codes of
kiosk.core.enums.ExitCode, help text on every option, a closed pipe ends quietly."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.cli.main import COMMANDS, build_parser, main
from kiosk.core.enums import ExitCode

IMAGE = "data/posenet-demo-images/frisbee.jpg"


def _actions(parser: argparse.ArgumentParser, path: str) -> Iterator[tuple[str, argparse.Action]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _actions(sub, f"{path} {name}")
        elif not isinstance(action, argparse._HelpAction):
            yield path, action


def test_every_option_and_argument_has_help() -> None:
    missing = [f"{path} {'/'.join(a.option_strings) or a.dest}"
               for path, a in _actions(build_parser(), "kiosk") if not a.help or a.help == argparse.SUPPRESS]
    assert not missing, f"options without help text: {missing}"


def test_top_level_help_speaks_to_a_user() -> None:
    text = build_parser().format_help()
    assert "registry" not in text and "register(" not in text
    for phrase in ("kiosk run", "kiosk index", "kiosk status", "kiosk doctor", "--help"):
        assert phrase in text
    assert set(COMMANDS) <= set(text.split())


@pytest.fixture(scope="module")
def tiny_index(shared_dir: Path, models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tiny") / "index"
    assert main(["index", "build", str(shared_dir / IMAGE), "-o", str(out), "--model", "movenet-lightning",
                 "--models-dir", str(models_dir), "--no-cache", "--quiet"]) == ExitCode.OK
    return out


CASES = [  # (argv with {index} {image} {models} placeholders, exit code, words in the message)
    ("pose {image} --model nope", ExitCode.USAGE,
     ["kiosk pose", "unknown model 'nope'"]),
    ("pose /no/such.jpg --model movenet-lightning", ExitCode.FAILURE, ["no such file"]),
    ("index build {image} -o {tmp}/out --model nope --models-dir {models} --no-cache --quiet",
     ExitCode.USAGE, ["kiosk index build", "unknown model"]),
    ("index build /no/such.jpg -o {tmp}/out --models-dir {models} --no-cache --quiet", ExitCode.USAGE,
     ["/no/such.jpg"]),
    ("index query {index} {image} --model nope --models-dir {models}", ExitCode.USAGE,
     ["kiosk index query", "unknown model"]),
    ("index query {index} /no/such.jpg --models-dir {models}", ExitCode.FAILURE,
     ["/no/such.jpg: no such file"]),
    ("index inspect {index} --query {image} --out {tmp}/s.png --model nope --models-dir {models}",
     ExitCode.USAGE, ["kiosk index inspect", "unknown model"]),
    ("index inspect /no/such/index", ExitCode.FAILURE, ["/no/such/index", "kiosk index build"]),
    ("index verify /no/such/index", ExitCode.FAILURE, ["/no/such/index"]),
    ("models info /no/such.tflite", ExitCode.FAILURE, ["kiosk models info", "/no/such.tflite"]),
    ("config check /no/such.yaml", ExitCode.FAILURE, ["/no/such.yaml", "check the path"]),
    ("status --status-file /no/such.json", ExitCode.FAILURE, ["no status file"]),
    ("compare {image} /no/such.jpg --model movenet-lightning", None, ["/no/such.jpg"]),
]


@pytest.mark.parametrize(("argv", "code", "words"), CASES, ids=[c[0].split(" {")[0] + f"-{i}"
                                                               for i, c in enumerate(CASES)])
def test_user_errors_are_one_clear_line(argv: str, code: int | None, words: list[str], tiny_index: Path,
                                        shared_dir: Path, use_models_dir: Path, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    args = argv.format(index=tiny_index, image=shared_dir / IMAGE, models=use_models_dir,
                       tmp=tmp_path).split()
    rc = main(args)
    err = capsys.readouterr().err
    assert rc != ExitCode.OK, err
    if code is not None:
        assert rc == code, err
    assert "Traceback" not in err
    for w in words:
        assert w in err


@pytest.mark.parametrize(("value", "words"), [
    ("nan", "not a finite number"), ("-0.1", "must be greater than 0"), ("3", "above the maximum 2"),
    ("far", "'far' is not a number"),
])
def test_eval_match_refuses_a_threshold_the_kiosk_would(value: str, words: str,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """--max-distance is checked by match.max_distance's own rules, before any work."""
    with pytest.raises(SystemExit) as exit_:
        main(["eval", "match", "--images", "/nowhere", f"--max-distance={value}"])
    err = capsys.readouterr().err
    assert exit_.value.code == ExitCode.USAGE and "Traceback" not in err
    assert "--max-distance" in err and words in err
    if value != "far":
        assert "match.max_distance" in err


def test_closed_pipe_ends_quietly(tiny_index: Path) -> None:
    """`kiosk index inspect --json | head`: the reader is gone before the output is written."""
    proc = subprocess.Popen([sys.executable, "-m", "kiosk", "index", "inspect", str(tiny_index), "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ))
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # as `head` does once it has its lines
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == ExitCode.PIPE_CLOSED
    assert "Traceback" not in err and "BrokenPipe" not in err, err
