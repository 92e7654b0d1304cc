#!/usr/bin/env python3
"""Re-fetch the web UI's vendored assets from the npm registry and check them.

The manifest ``src/chachaml/server/ui/static/vendor/ASSETS.json`` lists, per npm package, the
exact version, its licence, the tarball's ``integrity`` (as the registry publishes it) and
every vendored file with the path inside the tarball and its sha256.

    python scripts/fetch_ui_assets.py           # download, verify, (re)write the vendored files
    python scripts/fetch_ui_assets.py --check   # offline: the vendored files match the manifest

Downloading uses the registry's tarball URL (``https://registry.npmjs.org/<name>/-/<name>-<version>.tgz``)
and refuses a tarball whose sha512 differs from the manifest's ``integrity`` or a file whose
sha256 differs from the manifest. To move to a new version, edit the manifest (version,
integrity from ``npm view <pkg>@<version> dist.integrity``) and run with ``--rehash`` to record
the new files' hashes.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import sys
import tarfile
import urllib.request
from pathlib import Path
from typing import Any

VENDOR = Path(__file__).resolve().parent.parent / "src/chachaml/server/ui/static/vendor"
MANIFEST = VENDOR / "ASSETS.json"
REGISTRY = "https://registry.npmjs.org"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load_manifest(path: Path = MANIFEST) -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return manifest


def tarball_url(package: dict[str, Any]) -> str:
    name, version = package["npm"], package["version"]
    return f"{REGISTRY}/{name}/-/{name.rsplit('/', 1)[-1]}-{version}.tgz"


def check_integrity(data: bytes, integrity: str) -> None:
    algo, _, expected = integrity.partition("-")
    if algo != "sha512":
        raise SystemExit(f"unsupported integrity algorithm {algo!r}")
    actual = base64.b64encode(hashlib.sha512(data).digest()).decode()
    if actual != expected:
        raise SystemExit(f"tarball integrity mismatch: expected {integrity}, got sha512-{actual}")


def fetch(package: dict[str, Any]) -> bytes:
    url = tarball_url(package)
    if not url.startswith(REGISTRY + "/"):
        raise SystemExit(f"refusing to download from {url}")
    with urllib.request.urlopen(url, timeout=60) as resp:  # noqa: S310 - fixed https registry
        data: bytes = resp.read()
    check_integrity(data, package["integrity"])
    return data


def extract(package: dict[str, Any], tarball: bytes, *, rehash: bool) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as tar:
        for dest, spec in package["files"].items():
            member = tar.extractfile(spec["from"])
            if member is None:
                raise SystemExit(f"{package['npm']}: {spec['from']} is not a file")
            data = member.read()
            if rehash:
                spec["sha256"] = sha256(data)
            elif sha256(data) != spec["sha256"]:
                raise SystemExit(f"{package['npm']}: {spec['from']} does not match its sha256")
            out[dest] = data
    return out


def safe_dest(dest: str) -> Path:
    path = (VENDOR / dest).resolve()
    if VENDOR.resolve() not in path.parents:
        raise SystemExit(f"destination {dest!r} is outside the vendor folder")
    return path


def check(manifest: dict[str, Any], vendor: Path = VENDOR) -> list[str]:
    """Problems with the vendored files (empty when they match the manifest exactly)."""
    problems = []
    listed = {"ASSETS.json"}
    for package in manifest["packages"]:
        for key in ("npm", "version", "license", "integrity", "files"):
            if not package.get(key):
                problems.append(f"{package.get('npm', '?')}: manifest lacks {key}")
        for dest, spec in package.get("files", {}).items():
            listed.add(dest)
            path = vendor / dest
            if not path.is_file():
                problems.append(f"missing: {dest}")
            elif sha256(path.read_bytes()) != spec["sha256"]:
                problems.append(f"changed: {dest}")
    for path in vendor.rglob("*"):
        rel = path.relative_to(vendor).as_posix()
        if path.is_file() and rel not in listed:
            problems.append(f"not in the manifest: {rel}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="verify offline, download nothing")
    parser.add_argument("--rehash", action="store_true", help="record new files' sha256")
    args = parser.parse_args(argv)
    manifest = load_manifest()
    if args.check:
        problems = check(manifest)
        for problem in problems:
            print(problem, file=sys.stderr)
        print("ok" if not problems else f"{len(problems)} problem(s)")
        return 1 if problems else 0
    for package in manifest["packages"]:
        files = extract(package, fetch(package), rehash=args.rehash)
        for dest, data in files.items():
            path = safe_dest(dest)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        print(f"{package['npm']}@{package['version']}: {len(files)} files")
    if args.rehash:
        MANIFEST.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    problems = check(manifest)
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
