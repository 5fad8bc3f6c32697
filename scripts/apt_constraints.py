"""pip constraints that keep the platform's (apt's) Python packages in a --system-site-packages venv.

    python scripts/apt_constraints.py PYPROJECT EXTRAS [--dist-packages DIR] > constraints.txt

Run by scripts/install.sh with the venv's python (stdlib + pip's vendored `packaging` only, before the
kiosk is installed). A venv over apt's packages must not install a second numpy (or another package
apt's compiled modules are built against) in front of apt's: picamera2, libcamera's bindings,
simplejpeg and pidng are compiled against apt's numpy 1.x and fail to import under numpy 2. pip
would do exactly that when a dependency (ai-edge-litert's ml_dtypes 0.6) asks for numpy>=2.

Pinned (`name==apt version`): numpy, and every apt-provided distribution in picamera2's dependency
closure (when picamera2 is installed from apt). With those pins pip picks the LiteRT/ml_dtypes
versions that accept them, or fails, saying which requirement cannot be met. A pinned package the
kiosk itself needs newer than apt has is NOT pinned: the line `# not kept: ...` says so (stderr too),
and the venv gets its own copy of it.
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import re
import sys
import tomllib
from pathlib import Path

from pip._vendor.packaging.requirements import InvalidRequirement, Requirement
from pip._vendor.packaging.utils import canonicalize_name

DIST_PACKAGES = "/usr/lib/python3/dist-packages"
ALWAYS_KEEP = ("numpy",)
ROOTS = ("picamera2",)


def apt_distributions(path: str) -> dict[str, md.Distribution]:
    return {canonicalize_name(d.metadata["Name"]): d for d in md.distributions(path=[path])
            if d.metadata["Name"]}


def closure(dists: dict[str, md.Distribution]) -> set[str]:
    """numpy plus picamera2 and what it requires (transitively), as far as apt provides them."""
    wanted = [canonicalize_name(n) for n in (*ALWAYS_KEEP, *ROOTS)]
    seen: set[str] = set()
    while wanted:
        name = wanted.pop()
        if name in seen or name not in dists:
            continue
        seen.add(name)
        for line in dists[name].requires or []:
            try:
                req = Requirement(line)
            except InvalidRequirement:
                continue
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                wanted.append(canonicalize_name(req.name))
    return seen


def kiosk_requirements(pyproject: Path, extras: list[str]) -> dict[str, Requirement]:
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    lines = list(project.get("dependencies", []))
    for extra in extras:
        lines += project.get("optional-dependencies", {}).get(extra, [])
    reqs = {}
    for line in lines:
        req = Requirement(line)
        if req.marker is None or req.marker.evaluate():
            reqs[canonicalize_name(req.name)] = req
    return reqs


def constraints(dists: dict[str, md.Distribution], reqs: dict[str, Requirement]) -> list[str]:
    lines = [f"# apt's Python packages kept in the venv (from {DIST_PACKAGES}; scripts/apt_constraints.py)"]
    for name in sorted(closure(dists)):
        version = dists[name].version
        req = reqs.get(name)
        if req is not None and not req.specifier.contains(version, prereleases=True):
            note = (f"not kept: the kiosk needs {req}, apt has {name} {version}; the venv gets its own "
                    f"{name} in front of apt's")
            print(f"apt_constraints: {note}", file=sys.stderr)
            lines.append(f"# {note}")
            continue
        lines.append(f"{name}=={version}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pyproject", type=Path)
    parser.add_argument("extras", help="comma-separated extras the install asks for")
    parser.add_argument("--dist-packages", default=DIST_PACKAGES)
    args = parser.parse_args(argv)
    extras = [e for e in re.split(r"[,\s]+", args.extras) if e]
    dists = apt_distributions(args.dist_packages)
    print("\n".join(constraints(dists, kiosk_requirements(args.pyproject, extras))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
