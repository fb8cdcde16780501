#!/usr/bin/env python3
"""Fails when a tracked file refers to a path outside the repository.

A plain clone must build and pass its tests with nothing beside it, so no code, test, script, manifest or doc
may reach `../something` beyond the repository root (relative to the file, or to its crate's manifest for
`CARGO_MANIFEST_DIR` paths), nor name the team's `shared/` folder or an absolute checkout path.
"""
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
# Upstream code kept verbatim, and files that are not ours to read as paths.
SKIP = ("vendor/", "Cargo.lock", ".ci/check-paths.py")
RELATIVE = re.compile(r"(?<![\w.])((?:\.\./)+)[\w.\-]*")
SHARED = re.compile(r"(?<![\w/])shared/(?:docs|fixtures|hooks)\b|/work/")


def manifest_dir(path: pathlib.Path) -> pathlib.Path:
    for parent in path.parents:
        if (parent / "Cargo.toml").exists():
            return parent
    return ROOT


def problems(rel: str):
    path = ROOT / rel
    try:
        text = path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, IsADirectoryError, FileNotFoundError):
        return
    for number, line in enumerate(text.splitlines(), 1):
        if SHARED.search(line):
            yield number, line, "names a folder outside the repository"
        base = manifest_dir(path) if "CARGO_MANIFEST_DIR" in line else path.parent
        for match in RELATIVE.finditer(line):
            target = (base / match.group(0)).resolve()
            if ROOT != target and ROOT not in target.parents:
                yield number, line, f"`{match.group(0)}` resolves to {target}, outside the repository"


def main() -> int:
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout.split()
    found = 0
    for rel in files:
        if rel.startswith(SKIP):
            continue
        for number, line, why in problems(rel):
            found += 1
            print(f"{rel}:{number}: {why}\n    {line.strip()}")
    if found:
        print(f"{found} reference(s) outside the repository: copy what they need into it", file=sys.stderr)
        return 1
    print(f"no path outside the repository in {len(files)} files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
