"""Gallery builder and index reader: folders of photos and videos become a deployable index."""
