"""Optional numba: `njit` when numba imports and is not disabled, else a no-op decorator.

Set KIOSK_NO_NUMBA=1 to force the pure-numpy paths (tests run both).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from types import ModuleType
from typing import Any, cast

from kiosk.core.settings import env_flag

log = logging.getLogger(__name__)


def numba_disabled() -> bool:
    """True when KIOSK_NO_NUMBA is set to a non-empty value other than 0 (kiosk.core.settings)."""
    return env_flag("KIOSK_NO_NUMBA")


_numba: ModuleType | None
try:
    import numba as _numba

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover - exercised on machines without numba
    _numba = None
    HAVE_NUMBA = False


def njit(**kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """numba.njit(cache=True, **kwargs) when numba is installed, else the function unchanged."""

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        if _numba is None:
            return fn
        return cast(Callable[..., Any], _numba.njit(cache=True, **kwargs)(fn))

    return wrap


def use_numba() -> bool:
    """Whether the compiled kernels should be used right now."""
    return HAVE_NUMBA and not numba_disabled()
