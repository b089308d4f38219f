#!/usr/bin/env bash
# Region-only stylization: restyle the sky only, keep every other pixel exactly as shot.
# Runs from any folder of a fresh clone after `make install`; its data (examples/data/,
# see examples/data/README.md) is made on the first run from scikit-image's rocket photo.
#
# Expected: out/region/sky.png equals the input (at working size) pixel for pixel outside
# the sky; the sky takes the sunset colours of the reference, with a soft edge (2 % of
# the long side) inside the region boundary. For a video the region mask is carried
# along the optical flow, so the edge does not flicker.
# Quicker, elsewhere: SIZE=128 ITERATIONS=60 OUT=/tmp/out examples/photoreal_region.sh
set -euo pipefail
cd "$(dirname "$0")/.."
VIDSTYLE=${VIDSTYLE:-.venv/bin/vidstyle}
PYTHON=${PYTHON:-.venv/bin/python}
SIZE=${SIZE:-384}
ITERATIONS=${ITERATIONS:-300}
DATA=${DATA:-examples/data}   # made here on the first run
OUT=${OUT:-out}                # relative to the repository root
[ -f "$DATA/region_sky.png" ] || "$PYTHON" examples/photoreal_assets.py --out "$DATA"
mkdir -p "$OUT/region"

# The region: a black/white mask (white = region), here the sky of the content photo.
# Segmented style inside it, so the sky takes the reference's sky colours.
"$VIDSTYLE" image "$DATA/content.png" "$DATA/style.png" -o "$OUT/region/sky.png" \
  --size "$SIZE" --iterations "$ITERATIONS" --pyramid 1 --photoreal \
  --content-masks "$DATA/seg_content.png" --style-mask "$DATA/seg_style.png" --region "$DATA/region_sky.png"

# Or one label of the automatic masks: `vidstyle masks` shows which colour is which
# (label 0 = blue, 1 = green, 2 = black, numbered by first appearance from the top-left
# pixel), then --auto-masks 3 --region auto:0. Or GrabCut around an object:
#   "$VIDSTYLE" masks "$DATA/content.png" -o "$OUT/region/masks" --auto 3 --style "$DATA/style.png" --size "$SIZE"
#   "$VIDSTYLE" video clip.mp4 style.png -o out/ --grabcut 40,30,120,90 --region grabcut
