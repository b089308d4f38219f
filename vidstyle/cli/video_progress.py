"""tqdm rendering of :class:`vidstyle.video.VideoProgress` events."""

from __future__ import annotations

from typing import Any

from tqdm import tqdm

from vidstyle.cli.progress import StepBar
from vidstyle.optimize import Step
from vidstyle.video import VideoProgress


class TqdmVideoProgress(VideoProgress):
    """Outer bar per stage (frames k/N with ETA), inner bar over iterations of a frame."""

    def __init__(self) -> None:
        self.bar: tqdm | None = None
        self.steps = StepBar("  frame", leave=False, position=1)
        self.frame: int | None = None

    def stage(self, name: str, total: int) -> None:
        self.close()
        unit = {"flow": "pair", "encode": "video"}.get(name, "frame")
        self.bar = tqdm(total=total, desc=name, unit=unit, position=0, dynamic_ncols=True)

    def advance(self, done: int, total: int) -> None:
        if self.bar is not None:
            self.bar.total = total
            self.bar.update(done - self.bar.n)

    def step(self, frame: int, step: Step) -> None:
        if frame != self.frame:
            self.steps.close()
            self.steps.desc = f"  frame {frame + 1}"
            self.frame = frame
        self.steps(step)

    def frame_done(self, record: dict[str, Any]) -> None:
        self.steps.close()
        self.frame = None
        if self.bar is not None:
            self.bar.set_postfix(loss=f"{record['loss']:.4g}", s_per_frame=record["seconds"],
                                 last=f"{record['iterations']} it. ({record.get('stop', 'budget')})", refresh=False)

    def close(self) -> None:
        self.steps.close()
        if self.bar is not None:
            self.bar.close()
            self.bar = None
