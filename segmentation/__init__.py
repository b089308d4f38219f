"""Label maps for segmented style transfer: mask files, GrabCut, automatic masks and
propagation over video frames. Imports nothing from ``vidstyle``."""

from segmentation.auto import auto_masks
from segmentation.errors import SegmentationError
from segmentation.grabcut import grabcut
from segmentation.palette import PALETTE, labels_to_masks, read_mask, write_mask
from segmentation.propagate import propagate_labels, warp_labels

__all__ = [
    "PALETTE",
    "SegmentationError",
    "auto_masks",
    "grabcut",
    "labels_to_masks",
    "propagate_labels",
    "read_mask",
    "warp_labels",
    "write_mask",
]
