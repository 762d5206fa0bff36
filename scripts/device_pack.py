"""Pack what a GPU command wrote, in parts the device tool brings back.

The tool returns at most 8 files of 16 MiB each, 64 MiB together, per command; a larger
file does not come back at all. This writes the files under ROOT that earlier calls have
not returned yet (a manifest in ROOT remembers them, so a warm machine's next command
sends only what is new), smallest first, up to --limit-mb, as one tar split into 15 MB
parts named <name>.tar.part-NN. Here: cat <name>.tar.part-* | tar -x -C DEST.

    python scripts/device_pack.py results/paper "$OUT" --name call1 --exclude last.pt
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import tarfile
import tempfile
from pathlib import Path

PART_BYTES = 15 * 1000 * 1000
MANIFEST = ".device_returned.json"


def pending_files(root: Path, excludes: list[str], returned: dict[str, list[float]]
                  ) -> list[Path]:
    """Files under root, not excluded, new or changed since they were last returned."""
    chosen = []
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.name != MANIFEST):
        if any(fnmatch.fnmatch(path.name, pattern) for pattern in excludes):
            continue
        stat = path.stat()
        if returned.get(str(path.relative_to(root))) != [stat.st_size, stat.st_mtime]:
            chosen.append(path)
    return sorted(chosen, key=lambda p: p.stat().st_size)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("root", type=Path, help="folder whose new files to send back")
    parser.add_argument("out", type=Path, help="where the parts go ($OUT)")
    parser.add_argument("--name", default="results", help="name of the tar parts")
    parser.add_argument("--limit-mb", type=float, default=60.0, help="megabytes this call")
    parser.add_argument("--exclude", action="append", default=[], help="file name pattern")
    args = parser.parse_args()
    manifest = args.root / MANIFEST
    returned = json.loads(manifest.read_text()) if manifest.exists() else {}
    files = pending_files(args.root, args.exclude, returned)
    limit = args.limit_mb * 1e6
    packed, total = [], 0
    for path in files:
        size = path.stat().st_size
        if total + size > limit:
            continue  # a smaller file may still fit
        packed.append(path)
        total += size
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile() as buffer:
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            for path in packed:
                tar.add(path, arcname=str(Path(args.root.name) / path.relative_to(args.root)))
        buffer.seek(0)
        part = 0
        while chunk := buffer.read(PART_BYTES):
            (args.out / f"{args.name}.tar.part-{part:02d}").write_bytes(chunk)
            part += 1
    for path in packed:
        stat = path.stat()
        returned[str(path.relative_to(args.root))] = [stat.st_size, stat.st_mtime]
    manifest.write_text(json.dumps(returned))
    left = [p for p in files if p not in packed]
    print(f"device_pack: {len(packed)} files, {total / 1e6:.1f} MB in {part} part(s); "
          f"{len(left)} files ({sum(p.stat().st_size for p in left) / 1e6:.1f} MB) left for "
          "the next call")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
