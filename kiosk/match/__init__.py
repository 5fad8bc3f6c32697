"""Pose matching: normalisation, distances and the VP-tree index."""
