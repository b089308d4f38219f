"""Which arithmetic the feature network's convolutions run in: float32 or bfloat16.

bfloat16 keeps float32's exponent range with an 8-bit mantissa, so VGG activations
neither overflow nor underflow in it, and CPUs with AMX or AVX512-BF16 (Intel Sapphire
Rapids and later, AMD Zen 4 and later) and tensor-core GPUs (compute capability ≥ 8.0)
multiply it several times faster than float32 (benchmarks/RESULTS.md, "Precision").
Only the convolutions run in it: the image, its bounds, the Gram matrices, the losses and
the optimizer stay float32 (see :class:`vidstyle.net.FeatureNet`).

``auto`` picks bfloat16 only where the hardware runs it natively; elsewhere it would be
emulated and slower than float32.
"""

from __future__ import annotations

import logging
from pathlib import Path

from vidstyle.errors import OptionError

logger = logging.getLogger(__name__)

PRECISIONS = ("auto", "float32", "bfloat16")
#: CPU flags (``/proc/cpuinfo``) of native bfloat16 matrix arithmetic.
CPU_BF16_FLAGS = ("amx_bf16", "avx512_bf16")
#: First CUDA compute capability with bfloat16 tensor cores (Ampere).
GPU_BF16_CAPABILITY = (8, 0)
CPUINFO = Path("/proc/cpuinfo")


def cpu_bfloat16_flags(cpuinfo: Path = CPUINFO) -> list[str]:
    """Native bfloat16 flags of this CPU (empty when none, or where /proc/cpuinfo is absent)."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return []
    flags: set[str] = set()
    for line in text.splitlines():
        if line.startswith("flags"):
            flags.update(line.partition(":")[2].split())
            break
    return [flag for flag in CPU_BF16_FLAGS if flag in flags]


def gpu_capability() -> tuple[int, int] | None:
    """Compute capability of the first GPU TensorFlow sees, or None without one."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return None
    details = tf.config.experimental.get_device_details(gpus[0])
    capability = details.get("compute_capability")
    return tuple(capability) if capability else (0, 0)


def native_bfloat16() -> tuple[bool, str]:
    """Whether the device TensorFlow computes on runs bfloat16 natively, and why (one phrase)."""
    capability = gpu_capability()
    if capability is not None:
        major, minor = capability
        if capability >= GPU_BF16_CAPABILITY:
            return True, f"GPU compute capability {major}.{minor} has bfloat16 tensor cores"
        return False, f"GPU compute capability {major}.{minor} lacks bfloat16 tensor cores (needs ≥ 8.0)"
    flags = cpu_bfloat16_flags()
    if flags:
        return True, f"CPU has {'/'.join(flags)}"
    return False, "CPU has neither amx_bf16 nor avx512_bf16"


def resolve_precision(requested: str, *, recorded: str | None = None) -> tuple[str, str]:
    """The concrete precision for ``requested`` and the reason for it.

    Parameters
    ----------
    requested : {"auto", "float32", "bfloat16"}
        The setting.
    recorded : str, optional
        Precision an earlier run of the same job used: ``auto`` keeps it, so a resumed job
        (perhaps on another machine) never mixes precisions.

    Returns
    -------
    precision : {"float32", "bfloat16"}
    reason : str
    """
    if requested not in PRECISIONS:
        raise OptionError(f"unknown --precision {requested!r}: choose {', '.join(PRECISIONS)}")
    if requested != "auto":
        return requested, "chosen with --precision"
    if recorded in ("float32", "bfloat16"):
        return recorded, "as recorded by the run being resumed"
    native, why = native_bfloat16()
    return ("bfloat16" if native else "float32"), why
