"""Operating a fleet of kiosks from a workstation: deploy over ssh, fleet status."""
