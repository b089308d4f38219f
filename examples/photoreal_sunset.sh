#!/usr/bin/env bash
# Dusk → sunset, photorealistic (Luan et al. 2017). Runs from any folder of a fresh clone
# after `make install` (set VIDSTYLE/PYTHON to use another installation).
#
# Data: examples/data/, made on the first run by examples/photoreal_assets.py from
# scikit-image's rocket photo (see examples/data/README.md): content.png, a sunset
# reference style.png, and their colour-coded masks (blue = sky, green = the rest), so
# the sky takes the sunset sky and the towers and rocket take the warm structures.
#
# Expected: out/photoreal/sunset.png shows the same rocket and towers with crisp,
# undistorted edges (no painterly swirls); the deep-blue sky turns purple at the top,
# then red and orange toward the horizon, and the structures come out warmer. With
# --smooth the flat sky comes out cleaner still.
# Quicker, elsewhere: SIZE=128 ITERATIONS=60 OUT=/tmp/out examples/photoreal_sunset.sh
set -euo pipefail
cd "$(dirname "$0")/.."
VIDSTYLE=${VIDSTYLE:-.venv/bin/vidstyle}
PYTHON=${PYTHON:-.venv/bin/python}
SIZE=${SIZE:-384}
ITERATIONS=${ITERATIONS:-500}
DATA=${DATA:-examples/data}   # made here on the first run
OUT=${OUT:-out}                # relative to the repository root
[ -f "$DATA/seg_style.png" ] || "$PYTHON" examples/photoreal_assets.py --out "$DATA"
mkdir -p "$OUT/photoreal"

# One image: stage 1 (segmented style) then stage 2 (matting term).
"$VIDSTYLE" image "$DATA/content.png" "$DATA/style.png" -o "$OUT/photoreal/sunset.png" \
  --photoreal --content-masks "$DATA/seg_content.png" --style-mask "$DATA/seg_style.png" \
  --size "$SIZE" --iterations "$ITERATIONS" --pyramid 1 --smooth

# Inspect automatic masks instead of painted ones (labels shared by content and style):
"$VIDSTYLE" masks "$DATA/content.png" -o "$OUT/photoreal/masks" --auto 3 --style "$DATA/style.png" --size "$SIZE"

# A clip (video file or folder of frames): masks propagated along the optical flow,
# warped init + temporal loss per frame, resumable (rerun the same command). Preview the
# look first with a few small key frames (out/photoreal/clip/preview/contact_sheet.png):
#   "$VIDSTYLE" video clip.mp4 "$DATA/style.png" -o "$OUT/photoreal/clip" \
#     --photoreal --content-masks auto --auto-masks 3 --smooth --preview
# then drop --preview for the full render.
