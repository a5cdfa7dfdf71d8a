"""Helpers the notebooks call: environment, Drive, secrets, stage runs and display.

The notebooks hold no pipeline logic; each one calls :func:`stage_run` with its stage name and its
own form fields. Settings shared between notebooks (the source, the options set in earlier
notebooks, speaker names) are kept in ``<workspace>/notebook_session.json``, so any notebook can be
rerun alone after a disconnect: it reads the previous stage's artifact from the workspace cache
through the same :class:`~vtxlib.pipeline.Pipeline` and writes its own.

Values recorded with :func:`record` are displayed under the ``application/vnd.vtx.record+json``
MIME type; the batch runner and the tests read them back from the executed notebooks.
"""

from __future__ import annotations

import html
import json
import logging
import os
import platform
import shutil
import subprocess
from pathlib import Path
from typing import Any, Callable, Literal, Optional

from pydantic import Field

from .acquire import COOKIES_FILE
from .colab_install import drive_wanted, flush_drive, in_colab  # noqa: F401  (widgets import in_colab from here)
from .errors import InputError, VtxError
from .types import VtxModel
from .workspace import COLAB_DRIVE_ROOT, Workspace, atomic_write_json, default_root

log = logging.getLogger("vtxlib.notebook")

RECORD_MIME = "application/vnd.vtx.record+json"
SESSION_FILE = "notebook_session.json"
COLAB_LOCAL_ROOT = Path("/content/vtx-workspace")
DRIVE_MOUNT_POINT = "/content/drive"
#: secrets the notebooks may use, with what each one enables
SECRETS = {
    "HF_TOKEN": "pyannote diarization on the GPU tier (accept the model's terms on Hugging Face first)",
    "GEMINI_API_KEY": "07_enhance: punctuation, summary, chapters, suggested speaker names",
}
#: PipelineOptions fields a notebook may set; ``force`` applies to one call and is never stored


def session_options() -> list[str]:
    """The pipeline options a notebook may pass to :func:`stage_run` (kept in the session)."""
    from .pipeline import option_names

    return option_names("notebook")
_SPEAKER_COUNTS = ("num_speakers", "min_speakers", "max_speakers")


# -- environment --------------------------------------------------------------------------------


class EnvironmentInfo(VtxModel):
    colab: bool
    gpu: Optional[str]
    cuda: bool
    python: str
    system: str
    tier: Literal["gpu", "embedded-cpu"]

    def describe(self) -> str:
        where = "Google Colab" if self.colab else "local Python"
        device = f"GPU {self.gpu}" if self.gpu else "no GPU"
        tier = ("GPU tier (NeMo / pyannote / SpeechBrain when installed)" if self.tier == "gpu"
                else "embedded CPU tier (faster-whisper tiny.en, pyannote segmentation-3.0 + CAM++)")
        return f"{where}, Python {self.python} on {self.system}, {device}: {tier}"


def detect_environment() -> EnvironmentInfo:
    from .gpu import cuda_available

    gpu = _nvidia_gpu_name()
    cuda = cuda_available()
    return EnvironmentInfo(colab=in_colab(), gpu=gpu, cuda=cuda, python=platform.python_version(),
                           system=f"{platform.system()} {platform.machine()}",
                           tier="gpu" if cuda else "embedded-cpu")


def _nvidia_gpu_name() -> Optional[str]:
    if shutil.which("nvidia-smi") is None:
        return None
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    names = [line.strip() for line in out.stdout.splitlines() if line.strip()]
    return ", ".join(names) or None


# -- Drive and workspace ------------------------------------------------------------------------
class DriveUnavailable(VtxError):
    """Google Drive could not be mounted."""


def mount_drive(mount_point: str = DRIVE_MOUNT_POINT, mount: Optional[Callable[[str], Any]] = None) -> Path:
    """Mount Google Drive on Colab and return the ``MyDrive`` folder."""
    my_drive = Path(mount_point) / "MyDrive"
    if my_drive.is_dir():
        return my_drive
    if mount is None:
        if not in_colab():
            raise DriveUnavailable("Google Drive can only be mounted inside Colab; "
                                   "leave WORKSPACE empty to use a local folder")
        from google.colab import drive  # type: ignore

        mount = drive.mount
    try:
        mount(mount_point)
    except Exception as e:  # the Colab helper raises plain exceptions (timeout, refused consent)
        raise DriveUnavailable(
            f"Google Drive could not be mounted at {mount_point} ({e}). Run the cell again and allow "
            f"access in the pop-up, or untick USE_DRIVE to work in a local folder that is lost when "
            f"the runtime ends") from e
    if not my_drive.is_dir():
        raise DriveUnavailable(f"Drive was mounted but {my_drive} does not exist")
    return my_drive


def check_free_space(path: Path, min_free_gb: float = 1.0) -> float:
    """Free gigabytes at PATH; an actionable error when below MIN_FREE_GB (a full Drive)."""
    free_gb = shutil.disk_usage(path).free / 1e9
    if free_gb < min_free_gb:
        on_drive = str(path).startswith(DRIVE_MOUNT_POINT)
        where = "Google Drive" if on_drive else "the disk"
        fix = ("empty Drive's bin or free space in Drive, or untick USE_DRIVE to use the runtime's "
               "local disk (lost when the runtime ends)" if on_drive
               else "free space or choose another WORKSPACE folder")
        raise InputError(f"{where} at {path} has only {free_gb:.2f} GB free; vtx needs at least "
                         f"{min_free_gb:.1f} GB for audio, artifacts and model caches: {fix}")
    return free_gb


def workspace_root(workspace: str = "", use_drive: bool = True) -> Path:
    """The workspace folder a notebook uses: WORKSPACE if given, else Drive on Colab, else local."""
    if workspace and str(workspace).strip():
        return Path(str(workspace).strip()).expanduser()
    if in_colab():
        if not (use_drive and drive_wanted()):  # the setup cell's USE_DRIVE holds for the whole runtime
            return COLAB_LOCAL_ROOT
        try:
            mount_drive()
            return COLAB_DRIVE_ROOT
        except DriveUnavailable as e:
            log.warning("%s; using %s for now", e, COLAB_LOCAL_ROOT)
            return COLAB_LOCAL_ROOT
    return default_root()


def open_workspace(workspace: str = "", use_drive: bool = True, min_free_gb: float = 0.5) -> Workspace:
    """Create (or reopen) the workspace and check it has room; later notebooks in this kernel reuse it."""
    ws = Workspace(workspace_root(workspace, use_drive))
    check_free_space(ws.root, min_free_gb)
    os.environ["VTX_WORKSPACE"] = str(ws.root)  # later calls in this kernel find the same tree
    ws.configure_model_caches()
    return ws


# -- secrets ------------------------------------------------------------------------------------
def secret_status(workspace: Workspace, names: tuple[str, ...] = tuple(SECRETS)) -> dict[str, bool]:
    """Which secrets are set (True/False). Never returns or logs a value."""
    from .secrets import get_secret

    return {name: get_secret(name, workspace.secrets_dir) is not None for name in names}


def youtube_files(workspace: Workspace) -> dict[str, Path]:
    from .youtube import CLIENT_SECRETS_FILE, TOKEN_FILE

    return {"client_secrets": workspace.secrets_dir / CLIENT_SECRETS_FILE,
            "token": workspace.secrets_dir / TOKEN_FILE}


def show_secret_status(workspace: Workspace) -> dict[str, bool]:
    status = secret_status(workspace)
    rows = [(name, "set" if ok else "missing", purpose) for (name, purpose), ok
            in zip(SECRETS.items(), status.values())]
    for label, path in youtube_files(workspace).items():
        ok = path.is_file()
        status[f"youtube_{label}"] = ok
        rows.append((path.name, "present" if ok else "missing", f"09_upload ({label.replace('_', ' ')})"))
    cookies = workspace.secrets_dir / COOKIES_FILE
    status["cookies"] = cookies.is_file()
    rows.append((cookies.name, "present" if status["cookies"] else "missing",
                 "01_acquire: sites that ask to sign in (YouTube's \"confirm you're not a bot\")"))
    show_table(["secret", "status", "used by"], rows)
    show_markdown("Set missing secrets in Colab's key panel (left sidebar) or as environment variables; "
                  f"files go in `{workspace.secrets_dir}`. Values are never shown.")
    return status


# -- settings shared between notebooks --------------------------------------------------------------
class NotebookSession(VtxModel):
    source: Optional[str] = None
    options: dict[str, Any] = Field(default_factory=dict)
    speaker_names: dict[str, dict[str, str]] = Field(default_factory=dict)  # media id -> names


def load_session(workspace: Workspace) -> NotebookSession:
    path = workspace.root / SESSION_FILE
    if not path.is_file():
        return NotebookSession()
    try:
        return NotebookSession.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError) as e:
        log.warning("ignoring unreadable %s (%s)", path, e)
        return NotebookSession()


def save_session(workspace: Workspace, session: NotebookSession) -> None:
    atomic_write_json(workspace.root / SESSION_FILE, session.model_dump(mode="json"))


def normalise_option(name: str, value: Any) -> Any:
    """Form values to PipelineOptions values: empty text -> None, speaker count 0 -> None."""
    if isinstance(value, str):
        value = value.strip()
        if value == "":
            return None
    if name in _SPEAKER_COUNTS and value is not None:
        value = int(value)
        return value if value > 0 else None
    return value


def resolve_source(source: str, session: NotebookSession, allow_sample: bool = False) -> str:
    """SOURCE from the form, else the one the previous notebook used, else (01_acquire) the sample."""
    if source and str(source).strip():
        return str(source).strip()
    if session.source:
        return session.source
    if allow_sample:
        return sample_source()
    raise InputError("no SOURCE: set SOURCE in the form (a video URL or a file path) "
                     "or run 01_acquire first")


def sample_source() -> str:
    """The 30-second two-speaker sample recording (from pyannote.audio's wheel; fetched from PyPI
    when that package is not installed)."""
    from .testing.samples import pyannote_sample

    return str(pyannote_sample().wav)


# -- running stages --------------------------------------------------------------------------------
_PIPELINE: dict[str, Any] = {}  # one Pipeline per kernel: models load once however often cells rerun
_HOOK: Any = None  # the notebook's progress line (vtxlib.progress.NotebookHook), one output per stage_run


def pipeline_for(workspace: Workspace, options) -> Any:
    """The kernel's Pipeline for these options; a new one (and the old one closed) when they change."""
    from .pipeline import Pipeline

    key = json.dumps([str(workspace.root), options.model_dump(mode="json")], sort_keys=True)
    if _PIPELINE.get("key") != key:
        close_pipeline()
        _PIPELINE.update(key=key, pipeline=Pipeline(workspace, options, hook=progress_hook()))
    return _PIPELINE["pipeline"]


def progress_hook():
    """The kernel's NotebookHook: one progress line per stage run, kept as its summary (no widgets)."""
    global _HOOK
    from .progress import NotebookHook

    if _HOOK is None:
        _HOOK = NotebookHook()
    return _HOOK


def close_pipeline() -> None:
    pipeline = _PIPELINE.pop("pipeline", None)
    _PIPELINE.pop("key", None)
    if pipeline is not None:
        pipeline.close()


def stage_run(until: str, source: str = "", workspace: str = "", force: Optional[str] = None,
              out_dir: Optional[str] = None, allow_sample: bool = False, **options: Any):
    """Run the pipeline up to UNTIL for SOURCE, reusing every cached earlier stage.

    ``options`` are the calling notebook's own PipelineOptions fields (form values; empty text and
    a speaker count of 0 mean "automatic"). They are stored in the workspace's notebook session, so
    later notebooks run with the same settings. Speaker names chosen in 08_review are applied to
    the written subtitles and report.
    """
    from .pipeline import STAGES, PipelineOptions

    if until not in STAGES:
        raise InputError(f"until={until!r}: expected one of {', '.join(STAGES)}")
    allowed = session_options()
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise InputError(f"unknown option(s) {', '.join(unknown)}; expected: {', '.join(allowed)}")
    ws = open_workspace(workspace)
    session = load_session(ws)
    src = resolve_source(source, session, allow_sample)
    if normalise_option("cookies", options.get("cookies")):
        options["cookies"] = str(store_cookies(ws, options["cookies"]))
    session.options.update({k: normalise_option(k, v) for k, v in options.items()})
    session.source = src
    pipeline_options = PipelineOptions(**{k: v for k, v in session.options.items() if k in allowed},
                                       force=normalise_option("force", force))
    save_session(ws, session)
    pipeline = pipeline_for(ws, pipeline_options)
    progress_hook().begin()  # this call's own summary line
    if until not in ("subtitles", "translate"):
        return pipeline.run(src, until=until)
    media = pipeline.acquire(src)
    names = dict(session.speaker_names.get(media.id, {}))
    return pipeline.run(src, out_dir=Path(out_dir) if out_dir else None, until=until,
                        options=pipeline_options.replace(speaker_names=names))


def store_cookies(workspace: Workspace, path: str) -> Path:
    """Keep a cookies file with the workspace's secrets (Drive on Colab, mode 0600), so later
    notebooks and runtimes use it without asking; returns where it is kept."""
    source = Path(str(path).strip()).expanduser()
    target = workspace.secrets_dir / COOKIES_FILE
    if source.resolve() == target.resolve():
        return target
    if not source.is_file():
        raise InputError(f"COOKIES: {source} not found; expected a cookies.txt exported from a browser "
                         f"signed in to the site (upload it to the Colab file panel or to Drive first)")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(source.read_bytes())
    target.chmod(0o600)
    log.info("cookies kept at %s for later runs", target)
    return target


def finish_runtime() -> bool:
    """The last cell of every notebook: flush Drive (Colab), then say how to release the runtime.
    Returns whether Drive was flushed."""
    close_pipeline()
    flushed = flush_drive(echo=log.info)
    if in_colab():
        show_markdown("**Done.** " + ("Drive is flushed: the next notebook's runtime sees everything written "
                      "here. " if flushed else "") + "Colab's free tier holds one GPU runtime at a time: release "
                      "this one with *Runtime → Disconnect and delete runtime* before opening the next notebook.")
    else:
        show_markdown("**Done.** Nothing to release outside Colab.")
    return flushed


def parse_speaker_names(text: str) -> dict[str, str]:
    """``"SPEAKER_00=Alice; SPEAKER_01=Bob"`` (``;``, ``,`` or newlines between pairs) -> mapping."""
    mapping: dict[str, str] = {}
    for part in text.replace("\n", ";").replace(",", ";").split(";"):
        if not part.strip():
            continue
        speaker, sep, name = part.partition("=")
        if not sep or not speaker.strip() or not name.strip():
            raise InputError(f"speaker name {part.strip()!r}: expected SPEAKER_00=Name")
        mapping[speaker.strip()] = name.strip()
    return mapping


def suggested_names(document) -> dict:
    """Names 07_enhance suggested (speaker -> SuggestedName); never applied by itself."""
    extras = document.extras.enhance
    return dict(extras.suggested_speaker_names) if extras is not None else {}


def show_suggested_names(document) -> dict:
    names = suggested_names(document)
    if names:
        show_table(["speaker", "suggested name", "evidence"],
                   [(s, v.name, v.evidence) for s, v in sorted(names.items())],
                   caption="suggested by 07_enhance; tick APPLY_SUGGESTED_NAMES to use them")
    else:
        show_markdown("No suggested names (07_enhance did not run or found no names in the transcript).")
    return names


def show_enhancement(document) -> bool:
    """Show the summary, chapters and suggested names of 07_enhance; False when it did not run."""
    record = document.stages.get("enhance")
    if record is not None and record.incomplete:
        show_markdown(f"**Enhancement incomplete:** {record.incomplete}. It was not cached: run this cell "
                      f"again to retry.")
    extras = document.extras.enhance
    if extras is None:
        show_markdown("Not enhanced: no Gemini key, or ENHANCE is off. The transcript is unchanged.")
        return False
    if extras.summary is not None:
        show_markdown(f"**Summary.** {extras.summary.overall}")
    if extras.chapters_text:
        show_markdown("**Chapters** (paste into the video description):\n\n```\n" + extras.chapters_text + "\n```")
    stats = extras.stats
    show_markdown(f"punctuation: {stats.chunks_ok}/{stats.chunks} chunks corrected, "
                  f"{stats.words_changed} words changed")
    show_suggested_names(document)
    return True


def show_voice_matches(document) -> list[dict]:
    """The ``--voices`` matches of DOCUMENT as a table (speaker, shown as, enrolled voice, score,
    matched) and returned as rows; a note instead when no voices were given."""
    from .voices import voice_match_table

    rows = voice_match_table(document)
    if not rows:
        show_markdown("No voice matches: set VOICES to a folder with one clip per person "
                      "(`Alice.wav`, `Bob Smith.mp3`) or a folder of clips per person.")
        return rows
    threshold = next((m.threshold for m in document.voice_matches if m.threshold is not None), None)
    show_table(list(rows[0]), [tuple("" if v is None else f"{v:.3f}" if isinstance(v, float) else v for v in r.values())
                               for r in rows],
               caption=f"cosine similarity of each speaker to the enrolled voice assigned to it; named at "
                       f">= {threshold}. Names typed in SPEAKER_NAMES take precedence.")
    return rows


def set_speaker_names(names: str = "", apply_suggested: bool = False, source: str = "",
                      workspace: str = "") -> dict[str, str]:
    """Store the speaker names for SOURCE's media: the suggested ones only when APPLY_SUGGESTED, then
    the typed NAMES on top. Empty NAMES and no suggestions leave stored names as they are."""
    ws = open_workspace(workspace)
    result = stage_run("enhance", source, workspace)
    mapping: dict[str, str] = {}
    if apply_suggested:
        mapping.update({s: v.name for s, v in suggested_names(result.document).items() if v.name})
    mapping.update(parse_speaker_names(names))
    unknown = sorted(set(mapping) - set(result.document.speakers))
    if unknown:
        raise InputError(f"unknown speaker(s) {', '.join(unknown)}; this transcript has "
                         f"{', '.join(result.document.speakers) or 'no speakers'}")
    if mapping:
        session = load_session(ws)
        session.speaker_names[result.media.id] = {**session.speaker_names.get(result.media.id, {}), **mapping}
        save_session(ws, session)
    return load_session(ws).speaker_names.get(result.media.id, {})


def upload_captions(result, video_id: str = "", language: str = "", name: str = "vtx",
                    fmt: str = "vtt", is_draft: bool = False, dry_run: bool = True, workspace: str = "",
                    visible_speaker: str = "chevrons"):
    """Upload the subtitles of RESULT (a ``stage_run("translate")`` result) to YouTube: the original
    in LANGUAGE (empty: the transcript's language) and each translated track in its own language,
    each as its own caption track (a :class:`~vtxlib.youtube.TracksUploadResult`).

    VIDEO_ID may be empty when the source was a YouTube URL. OAuth files live in the workspace's
    secrets folder (``client_secret.json``; the token is stored there with mode 0600). A VTT is
    uploaded with the speaker's name as visible text where the speaker changes (YouTube shows no
    voice tag): ``visible_speaker`` "chevrons" (``>> NAME:``, YouTube's convention), "name" or "off";
    that copy is written as ``youtube.transcript.vtt`` beside ``transcript.vtt`` (translated tracks
    go as written: their cues are the original's as the run cut them).
    """
    from .youtube import UploadOptions, upload_caption_tracks

    ws = open_workspace(workspace)
    video = (video_id or "").strip() or _youtube_source(result.media.source)
    if not video:
        raise InputError("set VIDEO_ID: the source is not a YouTube video, so the video to caption "
                         "must be given (its 11-character id or URL)")
    if fmt not in result.outputs:
        raise InputError(f"no .{fmt} subtitles were written; run 06_subtitles first")
    files = youtube_files(ws)
    original = (language or "").strip() or result.document.language or "en"
    options = UploadOptions(video_id=video, language=original, name=name, is_draft=is_draft, format=fmt,
                            dry_run=dry_run, client_secrets=files["client_secrets"], token_path=files["token"],
                            interactive=not dry_run)
    tracks = [(_youtube_copy(result, fmt, visible_speaker), original)] + [
        (Path(result.outputs[f"{fmt}.{t.language}"]), t.language) for t in result.document.translations
        if f"{fmt}.{t.language}" in result.outputs]
    return upload_caption_tracks(tracks, options)


def _youtube_copy(result, fmt: str, visible_speaker: str) -> Path:
    path = Path(result.outputs[fmt])
    if fmt != "vtt" or visible_speaker == "off":
        return path
    from .subtitles import SubtitleOptions, VTTWriter
    from .workspace import atomic_write_text

    text = VTTWriter(SubtitleOptions(visible_speaker=visible_speaker)).render(result.document)
    return atomic_write_text(path.with_name(f"youtube.{path.name}"), text)


def _youtube_source(source: str) -> str:
    from .youtube import video_id_from

    try:
        return video_id_from(source)
    except InputError:
        return ""


# -- display ---------------------------------------------------------------------------------------
def _display(obj: Any, raw: bool = False) -> None:
    try:
        from IPython.display import display
    except ImportError:  # plain Python: nothing to render into
        log.info("%s", obj)
        return
    display(obj, raw=raw)


def show_markdown(text: str) -> None:
    try:
        from IPython.display import Markdown
    except ImportError:
        log.info("%s", text)
        return
    _display(Markdown(text))


def show_table(columns: list[str], rows: list[tuple], caption: str = "") -> None:
    """A small HTML table (every cell escaped) with a plain-text fallback."""
    head = "".join(f"<th style='text-align:left'>{html.escape(str(c))}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td style='text-align:left'>{html.escape(str(v))}</td>" for v in row)
                   + "</tr>" for row in rows)
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    plain = "\n".join(["  ".join(map(str, columns))] + ["  ".join(map(str, r)) for r in rows])
    _display({"text/html": f"<table>{cap}<tr>{head}</tr>{body}</table>", "text/plain": plain}, raw=True)


def show_figure(fig: Any) -> None:
    """Show a matplotlib or plotly figure inline (and release a matplotlib one)."""
    if not type(fig).__module__.startswith("matplotlib"):
        _display(fig)
        return
    from .plots import figure_png

    try:
        from IPython.display import Image
    except ImportError:
        return
    # rendered here rather than through the inline backend, which a pyplot-free Figure never reaches
    _display(Image(data=figure_png(fig), format="png"))


def record(**values: Any) -> None:
    """Display VALUES as this notebook's machine-readable result (read by the batch runner and tests)."""
    data = json.loads(json.dumps(values, default=_jsonable))
    _display({RECORD_MIME: data, "text/plain": json.dumps(data, indent=1, sort_keys=True)}, raw=True)


def _jsonable(value: Any) -> Any:
    """Models (an UploadResult, a Document's parts) are recorded as their JSON; anything else as text."""
    dump = getattr(value, "model_dump", None)
    return dump(mode="json") if callable(dump) else str(value)


def recorded(notebook) -> dict:
    """Everything :func:`record` displayed in an executed notebook (an nbformat node), merged in order."""
    values: dict = {}
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {}) if output.get("output_type") in ("display_data", "execute_result") else {}
            if RECORD_MIME in data:
                values.update(data[RECORD_MIME])
    return values


def show_media(result) -> None:
    media, audio = result.media, result.audio
    rows = [("media id", media.id), ("title", media.title), ("source", media.source)]
    if audio is not None:
        rows += [("audio", audio.path), ("duration", f"{audio.duration:.1f} s")]
    show_table(["", ""], rows)


def show_segments(transcript, limit: int = 12) -> None:
    rows = [(f"{s.start:7.2f}", f"{s.end:7.2f}", s.text.strip()) for s in transcript.segments[:limit]]
    show_table(["start", "end", "text"], rows,
               caption=f"{len(transcript.segments)} segments, {len(transcript.words)} words "
                       f"({transcript.backend} {transcript.model})")


def speaker_seconds(diarization) -> dict[str, float]:
    totals: dict[str, float] = {}
    for turn in diarization.turns:
        totals[turn.speaker] = totals.get(turn.speaker, 0.0) + (turn.end - turn.start)
    return {s: round(v, 2) for s, v in sorted(totals.items())}


def show_speakers(diarization) -> None:
    counts: dict[str, int] = {}
    for turn in diarization.turns:
        counts[turn.speaker] = counts.get(turn.speaker, 0) + 1
    rows = [(s, counts[s], f"{sec:.1f}") for s, sec in speaker_seconds(diarization).items()]
    show_table(["speaker", "turns", "seconds"], rows,
               caption=f"{len(rows)} speakers, {len(diarization.overlaps)} overlap regions ({diarization.backend})")


def show_turns(document, limit: int = 20) -> None:
    rows = []
    for turn in document.transcript.turns[:limit]:
        emotion = turn.emotion.label + (" (low confidence)" if turn.emotion.low_confidence else "") \
            if turn.emotion else ""
        rows.append((f"{turn.start:7.2f}", f"{turn.end:7.2f}", document.display_name(turn.speaker),
                     emotion, turn.text))
    show_table(["start", "end", "speaker", "emotion", "text"], rows,
               caption=f"first {len(rows)} of {len(document.transcript.turns)} turns")


def emotion_counts(document) -> dict[str, int]:
    counts: dict[str, int] = {}
    for turn in document.transcript.turns:
        label = turn.emotion.label if turn.emotion else "none"
        counts[label] = counts.get(label, 0) + 1
    return dict(sorted(counts.items()))


def show_cues(vtt_path: Path | str, limit: int = 8) -> None:
    """The first cues of a WebVTT file as text."""
    blocks = Path(vtt_path).read_text(encoding="utf-8").strip().split("\n\n")
    preview = "\n\n".join(blocks[: limit + 1])  # +1: the WEBVTT header block
    _display({"text/plain": preview, "text/html": f"<pre>{html.escape(preview)}</pre>"}, raw=True)


DOWNLOAD_LINK_MAX_BYTES = 1_000_000  # show_outputs puts smaller files in the notebook as download links


def show_outputs(outputs: dict[str, Path]) -> dict[str, int]:
    """A table of the written files: size, full path and, for files up to
    :data:`DOWNLOAD_LINK_MAX_BYTES`, a download link that carries the file itself (a ``data:`` URI),
    so it works wherever the saved notebook is opened (Jupyter, Colab, an exported copy) rather than
    only beside the kernel's folder. Returns the sizes."""
    sizes = {name: Path(path).stat().st_size for name, path in outputs.items() if path and Path(path).exists()}
    rows, plain = [], []
    for name in sorted(sizes):
        path = Path(outputs[name])
        link = _download_link(path) if sizes[name] <= DOWNLOAD_LINK_MAX_BYTES else "(large: open the path)"
        rows.append(f"<tr><td>{html.escape(name)}</td><td style='text-align:right'>{sizes[name]}</td>"
                    f"<td>{link}</td><td><code>{html.escape(str(path))}</code></td></tr>")
        plain.append(f"{name}  {sizes[name]}  {path}")
    head = "<tr><th>file</th><th>bytes</th><th>download</th><th>path</th></tr>"
    _display({"text/html": f"<table>{head}{''.join(rows)}</table>", "text/plain": "\n".join(plain)}, raw=True)
    if in_colab():
        show_markdown("The files are in the workspace on Drive (Files panel); "
                      "`from google.colab import files; files.download(path)` downloads a large one.")
    return sizes


def _download_link(path: Path) -> str:
    import base64
    import mimetypes

    kind = {".vtt": "text/vtt", ".srt": "application/x-subrip", ".rttm": "text/plain"}.get(
        path.suffix, mimetypes.guess_type(path.name)[0] or "application/octet-stream")
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    name = html.escape(path.name, quote=True)
    return f'<a download="{name}" href="data:{kind};base64,{data}">{html.escape(path.name)}</a>'


def files_written(outputs: dict[str, Path]) -> list[str]:
    return sorted(Path(p).name for p in outputs.values() if p and Path(p).is_file())
