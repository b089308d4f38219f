"""Choose where TensorFlow runs. Call once, before any tensor is created."""

from __future__ import annotations

import logging

import tensorflow as tf

from vidstyle.errors import OptionError

logger = logging.getLogger(__name__)
DEVICES = ("auto", "cpu", "gpu")


def configure_device(device: str = "auto", *, deterministic: bool = True) -> str:
    """Select the device and return a short description of it.

    ``auto`` lets TensorFlow place ops on a GPU when one is visible; ``cpu`` hides GPUs;
    ``gpu`` requires one. ``deterministic`` turns on TensorFlow's op determinism so the
    same seed and settings give bit-identical output on the same machine.
    """
    if device not in DEVICES:
        raise OptionError(f"unknown --device {device!r}: choose auto, cpu or gpu")
    gpus = tf.config.list_physical_devices("GPU")
    if device == "gpu" and not gpus:
        raise OptionError("--device gpu: TensorFlow sees no GPU; install a CUDA build "
                          "(pip install 'tensorflow[and-cuda]') or use --device cpu")
    try:
        if device == "cpu" and gpus:
            tf.config.set_visible_devices([], "GPU")
        for gpu in gpus if device != "cpu" else []:
            tf.config.experimental.set_memory_growth(gpu, True)  # share the GPU with flow/other jobs
    except RuntimeError:
        logger.debug("TensorFlow already initialized; device settings unchanged")
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    return "gpu" if gpus and device != "cpu" else "cpu"
