#!/usr/bin/env bash
# Day → sunset, photorealistic (Luan et al. 2017), from the repository root.
# Uses the shared DPST pair (../shared/data/photoreal): content in1, style tar1, and
# their colour-coded segmentation masks, so sky takes the sunset sky, buildings the
# buildings and water the water.
#
# Expected: out/photoreal/sunset.png shows the same city and dome with crisp, undistorted
# edges (no painterly swirls), recoloured toward the reference: a red/orange sky, warmer,
# darker buildings and a reddish reflection on the water. With --smooth the flat areas
# (sky, water) come out cleaner still.
set -euo pipefail
DATA=../shared/data/photoreal
mkdir -p out/photoreal

# One image: stage 1 (segmented style) then stage 2 (matting term), 512 px long side.
.venv/bin/vidstyle image "$DATA/in1.png" "$DATA/tar1.png" -o out/photoreal/sunset.png \
  --photoreal --content-masks "$DATA/seg_in1.png" --style-mask "$DATA/seg_tar1.png" \
  --size 512 --iterations 500 --pyramid 1 --smooth

# Inspect automatic masks instead of painted ones (labels shared by content and style):
.venv/bin/vidstyle masks "$DATA/in1.png" -o out/photoreal/masks --auto 3 --style "$DATA/tar1.png" --size 512

# A clip (video file or folder of frames): masks propagated along the optical flow,
# warped init + temporal loss per frame, resumable (rerun the same command).
#   .venv/bin/vidstyle video clip.mp4 "$DATA/tar1.png" -o out/photoreal/clip \
#     --photoreal --content-masks auto --auto-masks 3 --smooth
