"""Terminal progress for optimizer steps (tqdm), fed by library callbacks."""

from __future__ import annotations

from tqdm import tqdm

from vidstyle.optimize import Step


class StepBar:
    """A tqdm bar over iterations; one bar per pyramid level/frame, reused."""

    def __init__(self, desc: str = "optimizing", *, leave: bool = True, position: int = 0):
        self.desc, self.leave, self.position = desc, leave, position
        self.bar: tqdm | None = None
        self._key = None

    def __call__(self, step: Step) -> None:
        key = (step.level, step.iterations)
        if self.bar is None or key != self._key:
            self.close()
            level = f" level {step.level}/{step.levels}" if step.levels > 1 else ""
            self.bar = tqdm(total=step.iterations, desc=f"{self.desc}{level}", unit="it",
                            leave=self.leave, position=self.position, dynamic_ncols=True)
            self._key = key
        self.bar.update(step.iteration - self.bar.n)
        self.bar.set_postfix(loss=f"{step.loss:.4g}", refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
