#!/usr/bin/env bash
# A self-contained copy of the project for a GPU machine that gets files, not the repository
# (no .git, no ../shared): the code, the named data sets, and optionally stored run folders
# to resume. Writes the git-ignored folder .snap/ and prints the command prefix to run there.
#
#   scripts/device_snapshot.sh ml-1m beauty                # code + data
#   RESUME=results/paper scripts/device_snapshot.sh ml-1m   # + what paper_runs --resume needs
#
# The checkout's files travel too, and the stored results are over the tool's 64 MiB: should a
# call be refused for size, run scripts/device_travel.sh light after this script (restore after).
# On the machine: cd .snap && export GSASREC_DATA_DIR=$PWD/.device-data GSASREC_GIT_COMMIT=...
# Bring results back in parts under 16 MiB each (larger files do not come back), only what
# earlier calls of a warm machine did not bring yet:
#   python3 scripts/device_pack.py results/paper "$OUT" --name call1 --exclude last.pt
# and here: cat call1.tar.part-* | tar -x -C results
set -euo pipefail
cd "$(dirname "$0")/.."
data_root="${GSASREC_DATA_DIR:-../shared/data}"
if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
    echo "device_snapshot: commit first, so GSASREC_GIT_COMMIT names what runs" >&2
    exit 2
fi
rm -rf .snap && mkdir .snap
git archive HEAD | tar -x -C .snap --exclude=results --exclude=reports --exclude=docs \
    --exclude=notebooks
for name in "$@"; do
    if [ ! -d "$data_root/$name" ]; then
        echo "device_snapshot: no data set $data_root/$name (set GSASREC_DATA_DIR)" >&2
        exit 2
    fi
    mkdir -p ".snap/.device-data/$name"
    cp "$data_root/$name"/* ".snap/.device-data/$name/"
done
if [ -n "${RESUME:-}" ]; then
    # unfinished runs whole (last.pt to continue from); finished ones by their metrics.json
    # alone, which is all paper_runs.py needs to skip them
    find "$RESUME" -name config.json | while read -r config; do
        run="$(dirname "$config")"
        mkdir -p ".snap/$run"
        if [ -e "$run/metrics.json" ]; then
            cp "$run/metrics.json" ".snap/$run/"
        else
            cp -r "$run"/. ".snap/$run/"
        fi
    done
fi
echo "$(du -sh .snap | cut -f1) in .snap (carry [\".snap\"]; 64 MiB at most)"
echo "cd .snap && export GSASREC_DATA_DIR=\$PWD/.device-data" \
     "GSASREC_GIT_COMMIT=$(git rev-parse --short HEAD) PYTHONUNBUFFERED=1 && ..."
