from __future__ import annotations

from kiosk.cli.main import main

raise SystemExit(main())
