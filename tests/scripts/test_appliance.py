"""scripts/install.sh turns on the hardware watchdog: a systemd drop-in, checked in a dry run."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

INSTALL = Path(__file__).resolve().parents[2] / "scripts" / "install.sh"
DROP_IN = "/etc/systemd/system.conf.d/move-mirror-watchdog.conf"


def test_install_writes_the_watchdog_drop_in() -> None:
    out = subprocess.run(["bash", str(INSTALL), "--dry-run", "--no-apt"], capture_output=True, text=True,
                         timeout=120).stdout
    assert f"+ write {DROP_IN} (mode 0644):" in out and "+ systemctl daemon-reexec" in out
    body = re.search(rf"\+ write {re.escape(DROP_IN)} \(mode 0644\):\n((?:\|   .*\n)+)", out)
    assert body, out
    text = "".join(line[4:] + "\n" for line in body.group(1).splitlines())
    assert text.splitlines() == ["[Manager]", "RuntimeWatchdogSec=15", "RebootWatchdogSec=2min"]
