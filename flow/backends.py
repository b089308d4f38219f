"""Dense optical flow backends from OpenCV (contrib) behind one function.

:func:`estimate_flow` takes two frames and a method name and returns the flow from the
first frame to the second. Methods (DESIGN.md, "Optical flow"):

``"deepflow"``
    DeepFlow (Weinzaepfel et al. 2013), ``cv2.optflow.createOptFlow_DeepFlow``; the flow
    Ruder et al. 2016 used. OpenCV's Python binding exposes none of its parameters.
``"dis"``
    Dense Inverse Search (Kroeger et al. 2016), ``cv2.DISOpticalFlow_create`` with a preset
    (``"ultrafast"``, ``"fast"``, ``"medium"``) and variational refinement always on.
``"farneback"``
    Farneback 2003 polynomial expansion, ``cv2.calcOpticalFlowFarneback``.
``"tvl1"``
    Dual TV-L1 (Zach et al. 2007), ``cv2.optflow.DualTVL1OpticalFlow_create``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import cv2
import numpy as np

from flow.errors import FlowError

__all__ = [
    "DEFAULT_PARAMS",
    "METHODS",
    "check_params",
    "estimate_flow",
    "to_gray8",
]

logger = logging.getLogger(__name__)

METHODS: tuple[str, ...] = ("deepflow", "dis", "farneback", "tvl1")

DIS_PRESETS: dict[str, int] = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}
# OpenCV's "ultrafast" preset switches variational refinement off (0 iterations); we keep
# it on with the iteration count OpenCV's "fast" and "medium" presets use (Kroeger et al.
# 2016 refine every scale; DESIGN.md asks for refinement on every preset).
DIS_VARIATIONAL_ITERATIONS = 5

# Default parameters per method. Farneback: OpenCV's sample values (pyr_scale 0.5,
# winsize 15, 3 iterations, poly_n 5, poly_sigma 1.2) with 5 pyramid levels instead of 3
# so that motions of tens of pixels stay within reach of the coarsest level.
# TV-L1: OpenCV defaults (Zach et al. 2007; Sanchez et al. 2013 IPOL).
DEFAULT_PARAMS: dict[str, dict[str, Any]] = {
    "deepflow": {},
    "dis": {
        "preset": "medium",
        "variational_refinement_iterations": None,  # None: preset value, at least 5
        "finest_scale": None,  # None: preset value
        "use_spatial_propagation": None,
        "use_mean_normalization": None,
    },
    "farneback": {
        "pyr_scale": 0.5,
        "levels": 5,
        "winsize": 15,
        "iterations": 3,
        "poly_n": 5,
        "poly_sigma": 1.2,
        "gaussian": False,
    },
    "tvl1": {
        "tau": 0.25,
        "lambda_": 0.15,
        "theta": 0.3,
        "nscales": 5,
        "warps": 5,
        "epsilon": 0.01,
        "inner_iterations": 30,
        "outer_iterations": 10,
        "scale_step": 0.8,
        "gamma": 0.0,
        "median_filtering": 5,
    },
}

# A pyramid needs a few levels; smaller frames make OpenCV assert deep inside.
MIN_FRAME_SIDE = 8


def check_params(method: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a method name and its parameters; return the full parameter set.

    Parameters
    ----------
    method : str
        One of :data:`METHODS`.
    params : Mapping[str, Any]
        Overrides of :data:`DEFAULT_PARAMS` for that method.

    Returns
    -------
    dict
        Defaults updated with ``params``.

    Raises
    ------
    FlowError
        Unknown method, unknown parameter name or unknown DIS preset.
    """
    if method not in METHODS:
        raise FlowError(
            f"unknown optical flow method {method!r}; choose one of {', '.join(METHODS)}"
        )
    defaults = DEFAULT_PARAMS[method]
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        allowed = ", ".join(sorted(defaults)) or "none"
        raise FlowError(
            f"unknown parameter(s) {', '.join(unknown)} for flow method {method!r}; "
            f"allowed: {allowed}"
        )
    full = {**defaults, **params}
    if method == "dis" and full["preset"] not in DIS_PRESETS:
        raise FlowError(
            f"unknown DIS preset {full['preset']!r}; choose one of {', '.join(DIS_PRESETS)}"
        )
    return full


def to_gray8(image: np.ndarray) -> np.ndarray:
    """Convert a frame of any dtype and channel count to 8-bit grayscale.

    Parameters
    ----------
    image : np.ndarray
        ``(H, W)``, ``(H, W, 1)``, ``(H, W, 3)`` RGB or ``(H, W, 4)`` RGBA. ``uint8`` is
        taken as 0-255, ``uint16`` as 0-65535; floating point as 0-1 when its maximum is
        at most 1, otherwise as 0-255.

    Returns
    -------
    np.ndarray
        ``(H, W)`` uint8 luma (ITU-R BT.601 weights, as ``cv2.COLOR_RGB2GRAY``).

    Raises
    ------
    FlowError
        Unsupported shape or dtype.
    """
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (3, 4)):
        raise FlowError(
            f"a frame must be (H, W), (H, W, 3) RGB or (H, W, 4) RGBA; got shape {image.shape}"
        )
    if image.dtype == np.uint8:
        scaled = image
    elif image.dtype == np.uint16:
        scaled = image.astype(np.float32) * np.float32(255.0 / 65535.0)
    elif np.issubdtype(image.dtype, np.floating):
        scaled = image.astype(np.float32)
        if not np.all(np.isfinite(scaled)):
            raise FlowError("a frame contains NaN or infinite values; check the frame source")
        if scaled.size and float(scaled.max()) <= 1.0:
            scaled = scaled * np.float32(255.0)
    else:
        raise FlowError(
            f"frames must be uint8, uint16 or floating point; got dtype {image.dtype}"
        )
    if scaled.ndim == 3:
        code = cv2.COLOR_RGB2GRAY if scaled.shape[2] == 3 else cv2.COLOR_RGBA2GRAY
        scaled = cv2.cvtColor(np.ascontiguousarray(scaled), code)
    if scaled.dtype != np.uint8:
        scaled = np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(scaled)


def _deepflow(first: np.ndarray, second: np.ndarray, p: dict[str, Any]) -> np.ndarray:
    return cv2.optflow.createOptFlow_DeepFlow().calc(first, second, None)


def _dis(first: np.ndarray, second: np.ndarray, p: dict[str, Any]) -> np.ndarray:
    dis = cv2.DISOpticalFlow_create(DIS_PRESETS[p["preset"]])
    iterations = p["variational_refinement_iterations"]
    if iterations is None:
        iterations = max(dis.getVariationalRefinementIterations(), DIS_VARIATIONAL_ITERATIONS)
    dis.setVariationalRefinementIterations(int(iterations))
    if p["finest_scale"] is not None:
        dis.setFinestScale(int(p["finest_scale"]))
    if p["use_spatial_propagation"] is not None:
        dis.setUseSpatialPropagation(bool(p["use_spatial_propagation"]))
    if p["use_mean_normalization"] is not None:
        dis.setUseMeanNormalization(bool(p["use_mean_normalization"]))
    return dis.calc(first, second, None)


def _farneback(first: np.ndarray, second: np.ndarray, p: dict[str, Any]) -> np.ndarray:
    flags = cv2.OPTFLOW_FARNEBACK_GAUSSIAN if p["gaussian"] else 0
    return cv2.calcOpticalFlowFarneback(
        first,
        second,
        None,
        float(p["pyr_scale"]),
        int(p["levels"]),
        int(p["winsize"]),
        int(p["iterations"]),
        int(p["poly_n"]),
        float(p["poly_sigma"]),
        flags,
    )


def _tvl1(first: np.ndarray, second: np.ndarray, p: dict[str, Any]) -> np.ndarray:
    tvl1 = cv2.optflow.DualTVL1OpticalFlow_create(
        tau=float(p["tau"]),
        lambda_=float(p["lambda_"]),
        theta=float(p["theta"]),
        nscales=int(p["nscales"]),
        warps=int(p["warps"]),
        epsilon=float(p["epsilon"]),
        innnerIterations=int(p["inner_iterations"]),  # sic: OpenCV's keyword spelling
        outerIterations=int(p["outer_iterations"]),
        scaleStep=float(p["scale_step"]),
        gamma=float(p["gamma"]),
        medianFiltering=int(p["median_filtering"]),
    )
    return tvl1.calc(first, second, None)


_SOLVERS: dict[str, Callable[[np.ndarray, np.ndarray, dict[str, Any]], np.ndarray]] = {
    "deepflow": _deepflow,
    "dis": _dis,
    "farneback": _farneback,
    "tvl1": _tvl1,
}


def estimate_flow(
    first: np.ndarray, second: np.ndarray, *, method: str = "dis", **params: Any
) -> np.ndarray:
    """Estimate the dense optical flow from ``first`` to ``second``.

    Parameters
    ----------
    first, second : np.ndarray
        Two frames of the same height and width, any of the layouts and dtypes that
        :func:`to_gray8` accepts (gray, RGB, RGBA; uint8, uint16, float). They are
        converted to 8-bit grayscale inside.
    method : str, optional
        One of :data:`METHODS`; default ``"dis"``.
    **params
        Method parameters overriding :data:`DEFAULT_PARAMS`, e.g. ``preset="fast"`` for
        DIS or ``levels=4`` for Farneback.

    Returns
    -------
    np.ndarray
        ``(H, W, 2)`` float32 flow ``w`` in pixels on ``first``'s grid, channel 0 = x,
        channel 1 = y, such that ``first(x) ≈ second(x + w(x))``.

    Raises
    ------
    FlowError
        Unknown method or parameter, frames of different sizes, unsupported frame
        layout or dtype, frames too small for the pyramid.
    """
    full = check_params(method, params)
    gray1 = to_gray8(first)
    gray2 = to_gray8(second)
    if gray1.shape != gray2.shape:
        raise FlowError(
            f"frames differ in size ({gray1.shape[1]}x{gray1.shape[0]} vs "
            f"{gray2.shape[1]}x{gray2.shape[0]} pixels); resize all frames of a clip "
            "to one size"
        )
    if min(gray1.shape) < MIN_FRAME_SIDE:
        raise FlowError(
            f"frames of {gray1.shape[1]}x{gray1.shape[0]} pixels are too small for optical "
            f"flow; use frames at least {MIN_FRAME_SIDE} pixels on each side"
        )
    try:
        flow = _SOLVERS[method](gray1, gray2, full)
    except cv2.error as exc:  # OpenCV asserts on impossible parameter values
        raise FlowError(
            f"OpenCV rejected the {method!r} flow parameters {params}: "
            f"{str(exc).strip().splitlines()[-1]}"
        ) from exc
    return np.asarray(flow, dtype=np.float32).reshape((*gray1.shape, 2))
