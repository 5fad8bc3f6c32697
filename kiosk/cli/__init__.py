"""The `kiosk` command line. Each subcommand lives in its own module (`<name>_cmd.py`)."""
