"""Fixtures shared by the service tests: the in-process harness and the real `kiosk run` starter.

They are defined beside the tests that introduced them and re-exported here for the other
modules of this package (the hostile-input tests). `kiosk` uses the requesting module's
`index_root` fixture."""

from tests.app.service.test_service import harness  # noqa: F401
from tests.app.service.test_service_process import kiosk  # noqa: F401
