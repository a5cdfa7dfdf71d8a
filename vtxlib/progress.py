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


class NotebookHook:
    """Progress for a notebook that reads well once saved: one text output per run, updated in place
    while stages run and left as that run's summary (``subtitles 0.2 s · cached: acquire, audio, …``).

    No progress widgets (a saved notebook keeps them as dead "widget" outputs) and nothing on stderr.
    Call :meth:`begin` before each run so the run gets its own output.
    """

    def __init__(self, min_interval_s: float = 0.5):
        self.min_interval_s = min_interval_s
        self._lock = threading.Lock()
        self.begin()

    def begin(self) -> None:
        self._computed: dict[str, str] = {}  # stage -> "running" / "12/30 s of audio" / "2.2 s"
        self._cached: list[str] = []
        self._started: dict[str, float] = {}
        self._handle = None
        self._shown_at = 0.0

    def __call__(self, stage: str, event: str, completed: Optional[float] = None,
                 total: Optional[float] = None) -> None:
        import time

        with self._lock:
            now = time.perf_counter()
            if event == "start":
                self._started[stage] = now
                self._computed[stage] = "running"
            elif event == "progress" and total:
                self._computed[stage] = f"{min(completed or 0.0, total):.0f}/{total:.0f} s of audio"
                if now - self._shown_at < self.min_interval_s:
                    return
            elif event == "done":
                self._computed[stage] = f"{now - self._started.pop(stage, now):.1f} s"
            elif event == "cached":
                self._computed.pop(stage, None)
                if stage not in self._cached:
                    self._cached.append(stage)
            else:
                return
            self._shown_at = now
            self._show(self.summary())

    def summary(self) -> str:
        parts = [f"{stage} {state}" for stage, state in self._computed.items()]
        if self._cached:
            parts.append("cached: " + ", ".join(self._cached))
        return " · ".join(parts)

    def _show(self, text: str) -> None:
        try:
            from IPython.display import display
        except ImportError:
            return
        bundle = {"text/plain": text}
        if self._handle is None:
            self._handle = display(bundle, raw=True, display_id=True)
        else:
            self._handle.update(bundle, raw=True)
