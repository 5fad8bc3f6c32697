"""The kiosk application: camera, loop, display, configuration, status, systemd."""
