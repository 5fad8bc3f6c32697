"""Model manifest and asset fetching (download pinned by sha256, or copy from a mirror)."""
