from __future__ import annotations

import re
from pathlib import Path

import pytest

from kiosk.core.settings import BY_NAME, ENVIRONMENT, Scope, env_flag, env_path, env_str

CHECKOUT = Path(__file__).resolve().parents[2]
NAME = re.compile(r"\b(KIOSK_[A-Z0-9_]+)\b")


def _names_in(paths: list[Path]) -> dict[str, str]:
    found: dict[str, str] = {}
    for path in paths:
        for name in NAME.findall(path.read_text()):
            found.setdefault(name, str(path.relative_to(CHECKOUT)))
    return found


def test_every_variable_the_code_mentions_is_in_the_table() -> None:
    files = [p for p in (CHECKOUT / "kiosk").rglob("*.py")] + list((CHECKOUT / "scripts").glob("*.sh"))
    missing = {n: where for n, where in _names_in(files).items()
               if n not in BY_NAME and not n.startswith(("KIOSK_HOST", "KIOSK_ERROR"))}
    assert not missing, f"add these to kiosk.core.settings.ENVIRONMENT: {missing}"


def test_every_table_entry_is_used_somewhere() -> None:
    files = [p for p in (CHECKOUT / "kiosk").rglob("*.py") if p.name != "settings.py"]
    files += list((CHECKOUT / "scripts").glob("*.sh"))
    used = set(_names_in(files))
    unused = [v.name for v in ENVIRONMENT if v.name.startswith("KIOSK_") and v.name not in used]
    assert not unused


def test_only_the_table_reads_kiosk_variables() -> None:
    reads = re.compile(r"os\.environ(?:\.get)?[\[(]\s*[\"']KIOSK_")
    offenders = [str(p.relative_to(CHECKOUT)) for p in (CHECKOUT / "kiosk").rglob("*.py")
                 if reads.search(p.read_text()) and p.name != "settings.py"]
    assert offenders in ([], ["kiosk/app/service/service.py"])  # the stall hook moves out on i10


@pytest.mark.parametrize(("value", "flag"), [(None, False), ("", False), ("0", False), ("1", True),
                                             (" yes ", True)])
def test_env_flag(value: str | None, flag: bool) -> None:
    environ = {} if value is None else {"KIOSK_NO_NUMBA": value}
    assert env_flag("KIOSK_NO_NUMBA", environ) is flag


def test_env_path_expands_and_strips() -> None:
    assert env_path("KIOSK_MODELS_DIR", {"KIOSK_MODELS_DIR": " ~/m "}) == Path("~/m").expanduser()
    assert env_str("KIOSK_MODELS_DIR", {"KIOSK_MODELS_DIR": "  "}) is None


def test_unknown_names_are_refused() -> None:
    with pytest.raises(KeyError, match="ENVIRONMENT"):
        env_str("KIOSK_NOT_A_THING", {})


def test_every_entry_is_documented() -> None:
    for v in ENVIRONMENT:
        assert v.meaning and v.default and isinstance(v.scope, Scope)
