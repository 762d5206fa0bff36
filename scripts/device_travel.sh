#!/usr/bin/env bash
# The device tool copies the checkout to the GPU machine, 64 MiB at most by its README, and
# the stored results alone are over that. GPU runs need only .snap/
# (scripts/device_snapshot.sh), so around device calls, should a call be refused for size:
#
#   scripts/device_travel.sh light     # results/, reports/, docs/ leave the index (the
#                                      # files stay on disk, ignored for the while)
#   ... device calls (carry [".snap"]) ...
#   scripts/device_travel.sh restore   # everything back as it was
#
# While light, a pre-commit hook refuses commits, so the removal is never committed.
# Seen on 2026-12-01: with the tree light, a copy of 60 MB of tracked files plus a 14 MB .snap
# was accepted, yet results/ still arrived on the device; whether the tool's size check
# follows the index is not known. Light costs nothing: use it when a call is refused.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
paths=(results reports docs)
marker="# gsasrec device_travel"
exclude=.git/info/exclude
hook=.git/hooks/pre-commit
case "${1:-}" in
  light)
    if [ -f .git/gsasrec-travel-light ]; then echo "device_travel: already light" >&2; exit 2; fi
    if ! git diff --cached --quiet; then
      echo "device_travel: staged changes; commit or unstage them first" >&2; exit 2
    fi
    git rm -r -q --cached "${paths[@]}"
    { echo "$marker begin"; for p in "${paths[@]}"; do echo "/$p/"; done; echo "$marker end"; } \
      >>"$exclude"
    mkdir -p .git/hooks
    if [ ! -e "$hook" ]; then
      printf '#!/bin/sh\necho "device_travel: light (run scripts/device_travel.sh restore)" >&2\nexit 1\n' >"$hook"
      chmod +x "$hook"
      echo "$hook" >.git/gsasrec-travel-hook
    fi
    touch .git/gsasrec-travel-light
    echo "light: $(git ls-files -z | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1) bytes tracked"
    ;;
  restore)
    if [ ! -f .git/gsasrec-travel-light ]; then echo "device_travel: not light" >&2; exit 2; fi
    git reset -q -- "${paths[@]}"
    sed "/^$marker begin\$/,/^$marker end\$/d" "$exclude" >"$exclude.tmp"
    mv "$exclude.tmp" "$exclude"
    if [ -f .git/gsasrec-travel-hook ]; then rm -f "$hook" .git/gsasrec-travel-hook; fi
    rm -f .git/gsasrec-travel-light
    echo "restored"
    ;;
  *) echo "usage: scripts/device_travel.sh light|restore" >&2; exit 2 ;;
esac
