"""VGG feature network built from raw ``tf.nn`` ops on pretrained weight arrays.

Layers are addressed by name (``relu4_2``); the network stops at the deepest layer a
loss asks for, so a content-only or shallow-style setting never pays for conv5.

With ``precision="bfloat16"`` the convolutions, ReLUs and poolings run in bfloat16 and
every activation handed out is cast back to float32, so Gram matrices, losses, gradients
with respect to the image and the optimizer stay float32 (`vidstyle.precision`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

import numpy as np
import tensorflow as tf

from vidstyle.config import NetSettings
from vidstyle.errors import OptionError
from vidstyle.precision import resolve_precision
from vidstyle.weights import BLOCKS, conv_layer_names, load_vgg16, load_vgg19

#: torchvision ImageNet normalization used by the VGG16 weights (RGB in [0, 1]).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: Caffe-style preprocessing of Keras' VGG19 (BGR, 0–255, mean subtracted).
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)

logger = logging.getLogger(__name__)


def layer_sequence(arch: str) -> list[str]:
    """All layer names of ``arch`` in order: conv, relu, …, pool per block."""
    names = []
    for conv in conv_layer_names(arch):
        names += [conv, conv.replace("conv", "relu")]
        block, index = conv[4:].split("_")
        if int(index) == BLOCKS[arch][int(block) - 1]:
            names.append(f"pool{block}")
    return names


class FeatureNet:
    """VGG feature extractor: RGB images in [0, 1] → named activations.

    Parameters
    ----------
    settings : NetSettings
        Architecture, pooling and weights.
    layers : iterable of str
        Every layer any loss will ask for; the net is truncated after the deepest one.
    """

    def __init__(self, settings: NetSettings, layers: Iterable[str]):
        self.settings = settings
        sequence = layer_sequence(settings.net)
        wanted = set(layers)
        unknown = wanted - set(sequence)
        if unknown:
            raise OptionError(f"unknown layer(s) {', '.join(sorted(unknown))} for {settings.net}: "
                              f"use names like relu1_1, relu4_2")
        last = max(sequence.index(name) for name in wanted)
        self.sequence = sequence[: last + 1]
        loader = load_vgg16 if settings.net == "vgg16" else load_vgg19
        params = loader(settings.weights)
        self.precision = settings.precision
        if self.precision == "auto":  # library callers; the CLI and render_video resolve it earlier
            self.precision, reason = resolve_precision("auto")
            logger.info("precision: %s (%s)", self.precision, reason)
        self.dtype = tf.bfloat16 if self.precision == "bfloat16" else tf.float32
        convs = [name for name in self.sequence if name.startswith("conv")]
        self._params = {name: (tf.constant(k, self.dtype), tf.constant(b, self.dtype))
                        for name, (k, b) in zip(convs, params, strict=False)}

    def channels(self, layers: Iterable[str]) -> dict[str, int]:
        """Feature channels of each of ``layers``."""
        out, count = {}, 3
        for name in self.sequence:
            if name.startswith("conv"):
                count = int(self._params[name][0].shape[-1])
            if name in layers:
                out[name] = count
        return out

    def preprocess(self, images: tf.Tensor) -> tf.Tensor:
        """Map RGB in [0, 1] to the network's input scale (paired with the weights)."""
        if self.settings.net == "vgg16":
            return (images - IMAGENET_MEAN) / IMAGENET_STD
        return images[..., ::-1] * 255.0 - CAFFE_MEAN_BGR

    def __call__(self, images: tf.Tensor, layers: Sequence[str]) -> dict[str, tf.Tensor]:
        """Activations of ``layers`` for ``images`` of shape (B, H, W, 3), RGB in [0, 1]."""
        return self.run(images, layers)

    def run(self, x: tf.Tensor, layers: Sequence[str], *, after: str | None = None) -> dict[str, tf.Tensor]:
        """Activations of ``layers``; with ``after``, ``x`` is the output of that layer (no preprocessing).

        Runs only as deep as the deepest of ``layers`` (a tiled step evaluates the net in stages).
        """
        wanted = set(layers)
        out = {}
        start = 0 if after is None else self.sequence.index(after) + 1
        if after is None:
            x = self.preprocess(x)
        x = tf.cast(x, self.dtype)  # a no-op in float32; its gradient casts back to the image's dtype
        for name in self.sequence[start:]:
            if name.startswith("conv"):
                kernel, bias = self._params[name]
                x = tf.nn.bias_add(tf.nn.conv2d(x, kernel, 1, "SAME"), bias)
            elif name.startswith("relu"):
                x = tf.nn.relu(x)
            else:
                pool = tf.nn.max_pool2d if self.settings.pooling == "max" else tf.nn.avg_pool2d
                x = pool(x, 2, 2, "VALID")
            if name in wanted:
                out[name] = tf.cast(x, tf.float32)  # Grams and losses accumulate in float32
            if len(out) == len(wanted):
                break
        return out

    def masks_through(self, masks: np.ndarray, layers: Sequence[str]) -> dict[str, np.ndarray]:
        """Carry label masks (K, H, W) to each layer's grid (Luan et al. 2017).

        Conv layers apply a 3×3 average (stride 1); pooling layers resize to the pooled
        size, so a mask stays aligned with the activations it weights.
        """
        wanted = set(layers)
        out = {}
        m = tf.constant(np.asarray(masks, np.float32)[..., None])  # (K, H, W, 1)
        for name in self.sequence:
            if name.startswith("conv"):
                m = tf.nn.avg_pool2d(tf.pad(m, [[0, 0], [1, 1], [1, 1], [0, 0]], "SYMMETRIC"), 3, 1, "VALID")
            elif name.startswith("pool"):
                h, w = m.shape[1] // 2, m.shape[2] // 2
                m = tf.image.resize(m, (h, w), method="bilinear", antialias=True)
            if name in wanted:
                out[name] = m[..., 0].numpy()
            if len(out) == len(wanted):
                break
        return out
