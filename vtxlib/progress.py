"""Progress hooks for the pipeline: ``hook(stage, event, completed=None, total=None)``."""

from __future__ import annotations

import threading
from typing import Callable, Optional

#: A backend's progress callback: ``progress(completed, total)``, seconds of audio (emotion: turns).
#: The one definition; ``asr.base``, ``diarize.base`` and ``emotion.base`` re-export it.
ProgressFn = Callable[[float, float], None]


class TqdmHook:
    """One tqdm.auto bar per running stage, counting seconds of audio when the stage reports
    progress. ASR and diarization run side by side, so several bars can be open at once."""

    def __init__(self, disable: bool = False):
        self.disable = disable
        self._bars: dict[str, object] = {}
        self._lock = threading.Lock()

    def __call__(self, stage: str, event: str, completed: Optional[float] = None,
                 total: Optional[float] = None) -> None:
        with self._lock:
            if event == "start":
                self._open(stage)
            elif event == "progress" and total:
                self._update(stage, completed or 0.0, total)
            elif event in ("done", "cached"):
                bar = self._bars.pop(stage, None)
                if bar is not None:
                    bar.close()

    def _open(self, stage: str) -> None:
        from tqdm.auto import tqdm

        old = self._bars.pop(stage, None)
        if old is not None:
            old.close()
        self._bars[stage] = tqdm(total=None, desc=f"{stage:<9}", unit="s", disable=self.disable, leave=False,
                                 position=len(self._bars),
                                 bar_format="{desc} {n:.1f}/{total_fmt} s audio [{elapsed}]")

    def _update(self, stage: str, completed: float, total: float) -> None:
        bar = self._bars.get(stage)
        if bar is None:
            return
        if bar.total != round(total, 1):
            bar.total = round(total, 1)
        bar.n = round(min(completed, total), 1)
        bar.refresh()
