"""The gallery: the offline index builder and the index reader the kiosk uses.

sources    enumerate images/videos, decode frames (PyAV, sampled at --fps)
metadata   sidecar CSV/YAML captions (title, credit, licence, link) per source
extract    person selection, quality filters, near-duplicate removal
rendition  crop around the person, resized once to the display size
cache      per-source pose (and rendition) cache keyed by content hash
worker     one source in, its entries out
builder    the build: workers, progress, summary, index files
atomic     temp dir beside OUT_DIR, swapped into place
manifest   manifest.json: versions, model, counts, sha256 of every file
verify     every check `kiosk index verify` makes
reader     GalleryIndex: open, query, entries (what the kiosk uses)
query      photos -> dominant pose -> top-k
inspect    contact sheets and the coverage map
demo       the demo index from the sample photos and recording
"""
