"""Shared fixtures: the real models and data in ../shared, used as the asset mirror.

Tests never skip because ../shared is missing: they fail, saying where it is expected.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

CHECKOUT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("KIOSK_ASSET_MIRROR") or CHECKOUT.parent / "shared").resolve()
os.environ["KIOSK_ASSET_MIRROR"] = str(SHARED)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist (scripts/test.sh runs `-n 2 --dist loadscope --no-loadscope-reorder`):
    the modules holding a `slow` test are handed out first, so that no long module (the deploy
    tests, the Ray cluster, the end-to-end kiosk) starts last while the other worker idles
    (longest first). A plain run keeps the collection order."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """../shared: real models, photos, recordings and Coral's references (the asset mirror)."""
    if not (SHARED / "README.md").is_file():
        pytest.fail(f"the real test data is expected at {SHARED} (set KIOSK_ASSET_MIRROR)")
    return SHARED


@pytest.fixture(scope="session")
def models_dir(shared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every manifest model fetched (from the mirror) into a fresh directory, derived ones too."""
    from kiosk.assets.fetch import fetch_models

    dest = tmp_path_factory.mktemp("models")
    fetch_models(dest, mirror=shared_dir)
    return dest


@pytest.fixture()
def use_models_dir(models_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point KIOSK_MODELS_DIR at the fetched models for code that uses the defaults."""
    monkeypatch.setenv("KIOSK_MODELS_DIR", str(models_dir))
    return models_dir
