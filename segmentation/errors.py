"""Errors the user can fix in segmentation inputs (masks, rectangles, label maps)."""


class SegmentationError(ValueError):
    """A mask file, label map or segmentation option is unusable; the message says why."""
