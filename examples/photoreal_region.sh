#!/usr/bin/env bash
# Region-only stylization: stylize the sky only, keep every other pixel exactly as shot.
# From the repository root; uses ../shared/data/photoreal.
#
# Expected: out/region/sky.png equals the input (at working size) pixel for pixel outside
# the sky; the sky takes the sunset colours of tar1, with a soft edge (2 % of the long
# side) inside the region boundary. For a video the region mask is carried along the
# optical flow, so the edge does not flicker.
set -euo pipefail
DATA=../shared/data/photoreal
mkdir -p out/region

# Automatic masks with 3 labels; `vidstyle masks` shows which colour is the sky
# (label 0 = blue, 1 = green, 2 = black; labels are numbered by first appearance from the
# top-left pixel, so label 0 is usually the sky).
.venv/bin/vidstyle masks "$DATA/in1.png" -o out/region/masks --auto 3 --style "$DATA/tar1.png" --size 384
.venv/bin/vidstyle image "$DATA/in1.png" "$DATA/tar1.png" -o out/region/sky.png \
  --size 384 --iterations 300 --pyramid 1 --auto-masks 3 --region auto:0 --photoreal

# Or a painted black/white mask (white = region), or GrabCut around an object:
#   .venv/bin/vidstyle image photo.png style.png -o out.png --region mask.png
#   .venv/bin/vidstyle video clip.mp4 style.png -o out/ --grabcut 40,30,120,90 --region grabcut
