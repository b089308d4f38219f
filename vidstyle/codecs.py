"""Video codecs of ``--codec``: H.264 to watch, Apple ProRes and Avid DNxHR to edit.

The editorial codecs are intra-frame 4:2:2 10-bit mezzanine formats that every editing
system cuts without transcoding: ProRes 422 HQ (``prores_ks`` profile 3, FourCC
``apch``) and DNxHR HQX (``dnxhd`` with profile ``dnxhr_hqx``; the same data rate as
DNxHR HQ, 10 instead of 8 bits, so 16-bit frames keep their gradients). Both go into
QuickTime ``.mov`` with uncompressed 24-bit PCM audio, are tagged BT.709 (primaries,
transfer and matrix) and are converted from RGB with the BT.709 matrix into limited
("video") range, which is what an editor's timeline expects of display-referred HD.
Frames are piped to ffmpeg as 16-bit RGB for them, so nothing is lost before the
10-bit encode.
"""

from __future__ import annotations

from dataclasses import dataclass

from vidstyle.errors import OptionError

__all__ = ["CODECS", "CODEC_CHOICES", "DEFAULT_CODEC", "NO_VIDEO", "Codec", "check_frame_size", "even_size"]


@dataclass(frozen=True)
class Codec:
    """How one ``--codec`` choice is encoded.

    Attributes
    ----------
    name : str
        The ``--codec`` value.
    label : str
        What it is called in messages.
    encoder : str
        ffmpeg video encoder.
    extensions : tuple of str
        Containers it may be written to; the first one names the output of a render.
    pix_fmt : str
        ffmpeg pixel format of the encoded video.
    args : tuple of str
        Encoder options (profile, vendor).
    audio : str or None
        ffmpeg audio encoder; None: the container's default (:data:`vidstyle.encode.OUTPUT_FORMATS`).
    min_size : tuple of int
        Smallest ``(width, height)`` the encoder accepts.
    editorial : bool
        A 10-bit mezzanine codec: frames are piped as 16-bit RGB (``rgb48le``), converted
        with the BT.709 matrix to limited range and tagged BT.709.
    """

    name: str
    label: str
    encoder: str
    extensions: tuple[str, ...]
    pix_fmt: str
    args: tuple[str, ...] = ()
    audio: str | None = None
    min_size: tuple[int, int] = (2, 2)
    editorial: bool = False

    def filter_args(self) -> list[str]:
        """``-vf`` converting RGB with the BT.709 matrix to limited range, tagged BT.709 (editorial only)."""
        if not self.editorial:
            return []
        chain = (f"scale=out_color_matrix=bt709:out_range=tv,format={self.pix_fmt},"
                 "setparams=color_primaries=bt709:color_trc=bt709:colorspace=bt709:range=tv")
        return ["-vf", chain]


#: ``--codec`` value → codec. H.264 keeps the container-driven settings of
#: :func:`vidstyle.encode.encode_video` (yuv420p, ``--crf``, AAC audio).
CODECS: dict[str, Codec] = {
    "h264": Codec("h264", "H.264", "libx264", (".mp4", ".m4v", ".mov", ".mkv"), "yuv420p"),
    # prores_ks profiles: 0 proxy, 1 LT, 2 standard, 3 HQ, 4 4444, 5 4444 XQ. ``apl0`` as the
    # vendor makes Apple's applications treat the frames as their own encoder's.
    "prores": Codec("prores", "ProRes 422 HQ", "prores_ks", (".mov",), "yuv422p10le",
                    ("-profile:v", "3", "-vendor", "apl0"), audio="pcm_s24le", editorial=True),
    # ffmpeg's dnxhd encoder refuses DNxHR frames smaller than 256x120 ("Input dimensions too small").
    "dnxhr": Codec("dnxhr", "DNxHR HQX", "dnxhd", (".mov",), "yuv422p10le",
                   ("-profile:v", "dnxhr_hqx"), audio="pcm_s24le", min_size=(256, 120), editorial=True),
}
#: ``--codec none``: frames only (``--no-video``, job-file ``encode = false``).
NO_VIDEO = "none"
CODEC_CHOICES = (*CODECS, NO_VIDEO)
DEFAULT_CODEC = "h264"


def even_size(size: tuple[int, int]) -> tuple[int, int]:
    """``(width, height)`` rounded up to even numbers (4:2:0 and 4:2:2 chroma need even sizes)."""
    width, height = size
    return width + width % 2, height + height % 2


def check_frame_size(codec: str, size: tuple[int, int]) -> None:
    """Refuse frames the codec cannot encode, before any work is done.

    Parameters
    ----------
    codec : str
        A key of :data:`CODECS` (or :data:`NO_VIDEO`, always fine).
    size : tuple of int
        ``(width, height)`` of the frames, before padding to even sizes.

    Raises
    ------
    OptionError
        The codec is unknown, or the (padded) frames are smaller than it accepts.
    """
    if codec == NO_VIDEO:
        return
    if codec not in CODECS:
        raise OptionError(f"unknown codec {codec!r}: use one of {', '.join(CODEC_CHOICES)}")
    spec = CODECS[codec]
    width, height = even_size(size)
    min_w, min_h = spec.min_size
    if width < min_w or height < min_h:
        raise OptionError(f"--codec {codec}: {spec.label} needs frames of at least {min_w}x{min_h} px, these are "
                          f"{size[0]}x{size[1]}: raise --size, or use --codec prores (any size)")
