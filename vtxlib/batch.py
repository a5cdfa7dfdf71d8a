"""Batch runs: ``python -m vtxlib batch INPUT`` executes the notebooks with papermill for every source.

INPUT is a text file (one source a line, ``#`` comments), a CSV file (a ``source`` column, else the
first column) or a playlist URL (expanded with yt-dlp's ``extract_flat``, nothing downloaded).

For each source the chosen notebooks (default ``01_acquire`` ... ``08_review``) run with papermill,
``SOURCE`` and ``WORKSPACE`` injected into their ``parameters`` cell; each executed notebook is kept
under ``<workspace>/batch/<name>/<NNN>-<source>/``. A status table (source, status, speakers, words, language,
seconds, error) is printed and written as ``status.csv`` / ``status.md`` next to ``status.json``,
which is rewritten atomically whenever a source starts or ends. So a batch that is killed resumes
where it stopped: sources already done are skipped, the one that was running is redone (its
finished stages come from the workspace cache), and one bad source never stops the others.

Models load once per batch: by default every notebook of every source runs in one shared Jupyter
kernel, where :mod:`vtxlib.notebook` keeps one Pipeline (and so every loaded model) for as long as
the options stay the same. After a failure that kernel is restarted, so the next source starts
clean. ``--kernel notebook`` gives each notebook a fresh kernel instead (full isolation, models
reload for every notebook).

``--engine ray`` runs the pipeline for each source on a Ray cluster instead (:mod:`vtxlib.batch_ray`),
with the same batch folder, status table and resume rules (:func:`prepare_batch`).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal, Optional

from .errors import InputError, StageFailed, missing_dependency
from .types import VtxModel
from .workspace import Workspace, atomic_write_json, atomic_write_text

log = logging.getLogger("vtxlib.batch")

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
DEFAULT_NOTEBOOKS = ("01_acquire", "02_transcribe", "03_diarize", "04_align", "05_emotion", "06_subtitles",
                     "07_enhance", "08_review")
STATUS_COLUMNS = ("source", "status", "speakers", "words", "language", "seconds", "outputs", "error")
KERNEL_MODES = ("batch", "notebook")
ENGINES = ("local", "ray")  # ray: vtxlib.batch_ray


def notebook_parameter(option: str) -> str:
    """The notebook parameter that sets pipeline option OPTION (its name in capitals)."""
    return option.upper()


@dataclass
class BatchOptions:
    notebooks: tuple[str, ...] = DEFAULT_NOTEBOOKS
    notebook_dir: Path = NOTEBOOK_DIR
    kernel: str = "batch"  # "batch": one kernel for everything | "notebook": a fresh kernel per notebook
    kernel_name: str = "python3"
    parameters: dict[str, Any] = field(default_factory=dict)  # injected into every notebook that has them
    name: Optional[str] = None  # batch folder name; default derived from INPUT
    retry_failed: bool = True  # on a rerun, try sources that failed before again
    cell_timeout_s: Optional[int] = None

    def __post_init__(self) -> None:
        if self.kernel not in KERNEL_MODES:
            raise InputError(f"kernel={self.kernel!r}: expected one of {', '.join(KERNEL_MODES)}")
        self.notebook_dir = Path(self.notebook_dir)
        missing = [n for n in self.notebooks if not (self.notebook_dir / f"{n}.ipynb").is_file()]
        if missing:
            raise InputError(f"notebook(s) not found in {self.notebook_dir}: {', '.join(missing)}")


SourceState = Literal["pending", "running", "done", "failed"]


class SourceStatus(VtxModel):
    source: str
    status: SourceState = "pending"
    speakers: Optional[int] = None
    words: Optional[int] = None
    language: Optional[str] = None  # vtxlib.language.label: "es", "es+de", "hu (unsure)", "de (forced)"
    seconds: Optional[float] = None
    error: str = ""
    media_id: Optional[str] = None
    duration: Optional[float] = None
    folder: Optional[str] = None
    outputs: Optional[str] = None  # the folder with this source's transcript.* and report.html
    skipped: bool = False  # done (or failed, without retry_failed) in an earlier run; not rerun now


@dataclass
class BatchReport:
    name: str
    folder: Path
    rows: list[SourceStatus]
    wall_seconds: float

    @property
    def failed(self) -> list[SourceStatus]:
        return [r for r in self.rows if r.status == "failed"]

    @property
    def done(self) -> list[SourceStatus]:
        return [r for r in self.rows if r.status == "done"]

    @property
    def skipped(self) -> list[SourceStatus]:
        return [r for r in self.rows if r.skipped]

    @property
    def audio_seconds(self) -> float:
        """Audio processed in this run (sources skipped as already done are not counted)."""
        return sum(r.duration or 0.0 for r in self.done if not r.skipped)

    @property
    def real_time_factor(self) -> float:
        return self.audio_seconds / self.wall_seconds if self.wall_seconds > 0 else float("nan")

    def throughput(self) -> str:
        processed = len([r for r in self.rows if not r.skipped])
        if processed == 0:
            return f"nothing left to run: all {len(self.rows)} source(s) finished in an earlier run"
        return (f"{processed} source(s) processed in {self.wall_seconds:.1f} s "
                f"({len([r for r in self.done if not r.skipped])} done, "
                f"{len([r for r in self.failed if not r.skipped])} failed, "
                f"{len(self.skipped)} skipped as finished in an earlier run); {self.audio_seconds:.1f} s of audio, "
                f"{self.real_time_factor:.2f}x real time")

    def table(self) -> str:
        return format_table(self.rows)


# -- sources --------------------------------------------------------------------------------------
def read_sources(input_: str) -> list[str]:
    """The sources named by INPUT: a playlist/video URL, a .csv file or a text file."""
    from .acquire import is_url

    if is_url(input_):
        return expand_playlist(input_)
    path = Path(input_).expanduser()
    if not path.is_file():
        raise InputError(f"batch input not found: {path} (expected a text file with one source a line, "
                         f"a CSV file with a 'source' column, or a playlist URL)")
    text = path.read_text(encoding="utf-8-sig")
    sources = _csv_sources(text) if path.suffix.lower() == ".csv" else _text_sources(text)
    if not sources:
        raise InputError(f"{path} lists no sources")
    return list(dict.fromkeys(sources))  # duplicates would run twice into one folder


def _text_sources(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def _csv_sources(text: str) -> list[str]:
    rows = [r for r in csv.reader(io.StringIO(text)) if r and any(c.strip() for c in r)]
    if not rows:
        return []
    header = [c.strip().lower() for c in rows[0]]
    column = header.index("source") if "source" in header else 0
    body = rows[1:] if "source" in header else rows
    return [r[column].strip() for r in body
            if len(r) > column and r[column].strip() and not r[column].lstrip().startswith("#")]


def expand_playlist(url: str, extract: Optional[Callable[[str], dict]] = None) -> list[str]:
    """Every video URL of a playlist (flat extraction: no download); a single video gives [url]."""
    info = (extract or _extract_flat)(url)
    entries = info.get("entries")
    if entries is None:
        return [url]
    sources = []
    for entry in entries:
        if not entry:
            continue
        video = entry.get("url") or entry.get("webpage_url")
        if not video and entry.get("id"):
            video = f"https://www.youtube.com/watch?v={entry['id']}"
        if video:
            sources.append(video)
    if not sources:
        raise InputError(f"the playlist {url} has no videos")
    return sources


def _extract_flat(url: str) -> dict:
    try:
        import yt_dlp
    except ImportError as e:
        raise missing_dependency("yt-dlp", "cpu", "Expanding a playlist") from e
    from .acquire import _YdlLogger, explain_download_error

    # yt-dlp's warnings go to logging (vtxlib.acquire) rather than being dropped
    params = {"extract_flat": "in_playlist", "quiet": True, "logger": _YdlLogger(), "skip_download": True}
    try:
        with yt_dlp.YoutubeDL(params) as ydl:
            return ydl.sanitize_info(ydl.extract_info(url, download=False))
    except yt_dlp.utils.DownloadError as e:
        raise StageFailed(f"could not list {url}: {explain_download_error(str(e))}") from e


def batch_name(input_: str) -> str:
    """A folder name for a batch: the input file's stem (or 'playlist') plus a short hash of INPUT."""
    from .acquire import is_url

    stem = "playlist" if is_url(input_) else Path(input_).stem
    digest = hashlib.sha256(str(Path(input_).expanduser().resolve() if not is_url(input_) else input_)
                            .encode()).hexdigest()[:8]
    return f"{_slug(stem)}-{digest}"


def _slug(text: str, limit: int = 40) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._-")[:limit] or "source"


def source_folder_name(index: int, source: str) -> str:
    name = Path(source.split("?")[0].rstrip("/")).name or source
    return f"{index:03d}-{_slug(Path(name).stem)}-{hashlib.sha256(source.encode()).hexdigest()[:6]}"


# -- status -----------------------------------------------------------------------------------------
class StatusFile:
    """``status.json`` (rewritten atomically on every change) plus ``status.csv`` / ``status.md``."""

    def __init__(self, folder: Path, input_: str):
        self.folder = folder
        self.path = folder / "status.json"
        self.input = input_

    def load(self) -> dict[str, SourceStatus]:
        if not self.path.is_file():
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            log.warning("ignoring unreadable %s (%s): every source will run", self.path, e)
            return {}
        return {row["source"]: SourceStatus.model_validate(row) for row in data.get("sources", [])}

    def save(self, rows: list[SourceStatus], report: Optional[str] = None) -> None:
        atomic_write_json(self.path, {"input": self.input, "updated": time.strftime("%Y-%m-%dT%H:%M:%S"),
                                      "sources": [r.model_dump(mode="json") for r in rows], "throughput": report})
        atomic_write_text(self.folder / "status.csv", table_csv(rows))
        atomic_write_text(self.folder / "status.md", format_table(rows, markdown=True) +
                          (f"\n\n{report}\n" if report else "\n"))


def _cell(row: SourceStatus, column: str) -> str:
    value = getattr(row, column)
    if column == "status" and row.skipped:
        return f"{value} (earlier run)"
    if value is None:
        return ""
    if column == "seconds":
        return f"{value:.1f}"
    return str(value)


def format_table(rows: list[SourceStatus], markdown: bool = False) -> str:
    cells = [[_cell(r, c).replace("|", "/").replace("\n", " ") for c in STATUS_COLUMNS] for r in rows]
    if markdown:
        lines = ["| " + " | ".join(STATUS_COLUMNS) + " |", "|" + "---|" * len(STATUS_COLUMNS)]
        return "\n".join(lines + ["| " + " | ".join(c) + " |" for c in cells])
    widths = [min(max([len(h)] + [len(c[i]) for c in cells]), 60) for i, h in enumerate(STATUS_COLUMNS)]
    widths[-1] = max(len(c[-1]) for c in cells + [list(STATUS_COLUMNS)])  # the error, last, is never cut
    return "\n".join([_line(STATUS_COLUMNS, widths)] + [_line(c, widths) for c in cells])


def _line(values, widths: list[int]) -> str:
    return "  ".join(_fit(v, w).ljust(w) for v, w in zip(values, widths)).rstrip()


def _fit(text: str, width: int) -> str:
    """TEXT cut to WIDTH from the left: the end of a path or URL tells sources apart."""
    return text if len(text) <= width else "..." + text[len(text) - width + 3:]


def table_csv(rows: list[SourceStatus]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(STATUS_COLUMNS)
    for row in rows:
        writer.writerow([_cell(row, c) for c in STATUS_COLUMNS])
    return buffer.getvalue()


# -- running ---------------------------------------------------------------------------------------
class NotebookKernel:
    """The kernel the notebooks run in: one shared kernel ("batch") or none (papermill starts one per
    notebook)."""

    def __init__(self, mode: str, kernel_name: str):
        self.mode, self.kernel_name, self.manager = mode, kernel_name, None

    def engine_kwargs(self) -> dict:
        if self.mode != "batch":
            return {}
        if self.manager is None:
            from jupyter_client.manager import AsyncKernelManager

            self.manager = AsyncKernelManager(kernel_name=self.kernel_name)
        return {"km": self.manager}

    def restart(self) -> None:
        """Drop the shared kernel (after a failure); the next notebook starts a fresh one."""
        self.shutdown()

    def shutdown(self) -> None:
        if self.manager is None:
            return
        from jupyter_client.utils import run_sync

        try:
            if self.manager.has_kernel:
                run_sync(self.manager.shutdown_kernel)(now=True)
        except Exception as e:  # a kernel that already died: nothing left to stop
            log.debug("kernel shutdown: %s", e)
        self.manager = None


def run_batch(input_: str, workspace: Workspace, options: Optional[BatchOptions] = None,
              sources: Optional[list[str]] = None, echo: Callable[[str], None] = lambda line: None) -> BatchReport:
    """Run the notebooks for every source of INPUT; returns (and writes) the status table."""
    options = options or BatchOptions()
    _check_voices_parameter(options)
    name, folder, status, rows = prepare_batch(input_, workspace, options.name, options.retry_failed, sources)
    kernel = NotebookKernel(options.kernel, options.kernel_name)
    started = time.perf_counter()
    try:
        for row in rows:
            if row.skipped:
                echo(f"skip   {row.source} ({row.status} in an earlier run)")
                continue
            echo(f"start  {row.source}")
            row.status, row.error = "running", ""
            status.save(rows)
            _run_source(row, workspace, options, kernel)
            status.save(rows)
            echo(end_line(row))
    finally:
        kernel.shutdown()
    report = BatchReport(name, folder, rows, time.perf_counter() - started)
    status.save(rows, report.throughput())
    return report


def prepare_batch(input_: str, workspace: Workspace, name: Optional[str], retry_failed: bool,
                  sources: Optional[list[str]] = None) -> tuple[str, Path, StatusFile, list[SourceStatus]]:
    """(name, folder, status file, rows) of a batch, rows resumed from an earlier run's ``status.json``.

    Every engine (this module's notebooks, :mod:`vtxlib.batch_ray`) starts from here, so they share
    the folder layout, the resume rules and the status table.
    """
    sources = sources if sources is not None else read_sources(input_)
    name = name or batch_name(input_)
    folder = workspace.batch_dir / name
    folder.mkdir(parents=True, exist_ok=True)
    status = StatusFile(folder, input_)
    previous = status.load()
    rows = [_initial_row(source, previous.get(source), retry_failed) for source in sources]
    for index, row in enumerate(rows):
        row.folder = row.folder or str(folder / source_folder_name(index, row.source))
    status.save(rows)
    return name, folder, status, rows


def end_line(row: SourceStatus) -> str:
    """The progress line printed when a source ends."""
    return f"{row.status:<6} {row.source} ({row.seconds or 0:.1f} s){': ' + row.error if row.error else ''}"


def _check_voices_parameter(options: BatchOptions) -> None:
    """--voices reaches the pipeline only through a notebook that declares VOICES: say so rather
    than run the whole batch without names."""
    if options.parameters.get("VOICES") is None:
        return
    import papermill

    if not any("VOICES" in papermill.inspect_notebook(str(options.notebook_dir / f"{name}.ipynb"))
               for name in options.notebooks):
        raise InputError(f"--voices: none of the notebooks {', '.join(options.notebooks)} has a VOICES "
                         f"parameter; use `python -m vtxlib run SOURCE --voices DIR` per source")


def _initial_row(source: str, previous: Optional[SourceStatus], retry_failed: bool) -> SourceStatus:
    if previous is not None and previous.status == "done":
        previous.skipped = True
        return previous
    if previous is not None and previous.status == "failed" and not retry_failed:
        previous.skipped = True
        return previous
    return SourceStatus(source=source, folder=previous.folder if previous else None)


def _run_source(row: SourceStatus, workspace: Workspace, options: BatchOptions, kernel: NotebookKernel) -> None:
    import nbformat

    from .notebook import recorded

    started = time.perf_counter()
    out_dir = Path(row.folder)
    out_dir.mkdir(parents=True, exist_ok=True)
    values: dict = {}
    current = ""
    try:
        for name in options.notebooks:
            current = name
            output = out_dir / f"{name}.ipynb"
            _execute(options.notebook_dir / f"{name}.ipynb", output, _parameters(row.source, workspace, options,
                                                                                options.notebook_dir / f"{name}.ipynb"),
                     options, kernel)
            values.update(recorded(nbformat.read(output, as_version=4)))
        row.status = "done"
    except Exception as e:  # one bad source must never stop the batch: record it and go on
        row.status, row.error = "failed", f"{current}: {describe_failure(e)}"
        log.info("%s failed in %s: %s", row.source, current, row.error)
        kernel.restart()
    finally:
        row.seconds = round(time.perf_counter() - started, 2)
        row.media_id = values.get("media_id", row.media_id)
        row.duration = values.get("duration", row.duration)
        row.speakers = values.get("speakers", row.speakers)
        row.words = values.get("words", row.words)
        row.language = values.get("language", row.language)
        row.outputs = outputs_folder(workspace, row.media_id) or row.outputs


def outputs_folder(workspace: Workspace, media_id: Optional[str]) -> Optional[str]:
    """Where the notebooks wrote MEDIA_ID's transcript files, if they did."""
    if not media_id:
        return None
    folder = Path(workspace.root) / "outputs" / media_id
    return str(folder) if (folder / "transcript.vtt").is_file() else None


def _parameters(source: str, workspace: Workspace, options: BatchOptions, notebook: Path) -> dict:
    import papermill

    declared = papermill.inspect_notebook(str(notebook))
    wanted = {**options.parameters, "SOURCE": source, "WORKSPACE": str(workspace.root)}
    return {k: v for k, v in wanted.items() if k in declared}


def _execute(notebook: Path, output: Path, parameters: dict, options: BatchOptions, kernel: NotebookKernel) -> None:
    try:
        import papermill
    except ImportError as e:
        raise missing_dependency("papermill", "notebooks", "Batch runs") from e
    papermill.execute_notebook(str(notebook), str(output), parameters=parameters, kernel_name=options.kernel_name,
                               cwd=str(options.notebook_dir), progress_bar=False, log_output=False,
                               execution_timeout=options.cell_timeout_s, **kernel.engine_kwargs())


def describe_failure(error: Exception) -> str:
    """One line: the notebook's own error (e.g. ``InputError: file not found: ...``) when it has one."""
    ename, evalue = getattr(error, "ename", None), getattr(error, "evalue", None)
    text = f"{ename}: {evalue}" if ename else f"{type(error).__name__}: {error}"
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)  # tracebacks from the kernel carry ANSI colours
    return " ".join(text.split())[:300]


# -- command line (the command itself: vtxlib.batch_cli) -------------------------------------------
def parameters_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """Notebook parameters from --param NAME=VALUE and the pipeline options given on the command line."""
    from .cli_options import pipeline_options_from_args
    from .pipeline import option_names

    options = pipeline_options_from_args(args)  # validated like `run`'s
    params: dict[str, Any] = {}
    for option in option_names("notebook"):
        value = getattr(options, option)
        if value != type(options).model_fields[option].default:
            params[notebook_parameter(option)] = value
    if options.enhance == "off":
        params["ENHANCE"] = "off"  # the CLI's default; 07_enhance's own default is "auto"
    if options.force:
        log.warning("--force is not applied in batch runs; use `python -m vtxlib run --force` per source")
    for item in args.param:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--param {item!r}: expected NAME=VALUE")
        try:
            params[key.strip()] = json.loads(raw)
        except ValueError:
            params[key.strip()] = raw
    return params


if __name__ == "__main__":  # the command moved to vtxlib.batch_cli (batch_ray builds on this module)
    import sys

    sys.exit("error: run batches with: python -m vtxlib batch LIST [options] (see --help)")
