"""Progress hooks for the pipeline: ``hook(stage, event, completed=None, total=None)``."""

from __future__ import annotations

from typing import Optional


class TqdmHook:
    """One tqdm.auto bar per stage: a seconds-of-audio bar when the stage reports progress."""

    def __init__(self, disable: bool = False):
        self.disable = disable
        self._bar = None
        self._stage: Optional[str] = None

    def __call__(self, stage: str, event: str, completed: Optional[float] = None,
                 total: Optional[float] = None) -> None:
        from tqdm.auto import tqdm

        if event == "start":
            self._close()
            self._stage = stage
            self._bar = tqdm(total=None, desc=f"{stage:<9}", unit="s", disable=self.disable, leave=False,
                             bar_format="{desc} {n:.1f}/{total_fmt} s audio [{elapsed}]")
        elif event == "progress" and self._bar is not None and total:
            if self._bar.total != round(total, 1):
                self._bar.total = round(total, 1)
            self._bar.n = round(min(completed or 0.0, total), 1)
            self._bar.refresh()
        elif event in ("done", "cached"):
            if stage == self._stage:
                self._close()

    def _close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        self._bar, self._stage = None, None
