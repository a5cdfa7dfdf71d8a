"""Generate notebooks/00_setup_gpu.ipynb ... 09_upload.ipynb from the specs below.

The notebooks are build outputs: edit this file and run ``python tools/make_notebooks.py`` (``--check``
fails when a committed notebook differs from what this file generates). Every notebook gets the
same layout: a title with its "Open in Colab" badge, a setup cell that makes vtxlib importable
(cloning and installing it on a fresh Colab runtime), one parameters cell (tagged ``parameters``
for papermill, a ``# @param`` form on Colab), an ipywidgets form for the same variables in Jupyter,
then cells that only call vtxlib. Outputs are never stored.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
COLAB_URL = "https://colab.research.google.com/github/OWNER/vtx/blob/main/notebooks/{name}.ipynb"
BADGE = f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({COLAB_URL})"


@dataclass
class Param:
    name: str
    default: Any
    help: str
    choices: Optional[list] = None

    def colab_line(self) -> str:
        if self.choices:
            annotation = json.dumps(self.choices)
        elif isinstance(self.default, bool):
            annotation = '{type:"boolean"}'
        elif isinstance(self.default, int):
            annotation = '{type:"integer"}'
        elif isinstance(self.default, float):
            annotation = '{type:"number"}'
        else:
            annotation = '{type:"string"}'
        return f"{self.name} = {self.default!r}  # @param {annotation}"


@dataclass
class Notebook:
    name: str
    title: str
    intro: str
    params: list[Param]
    cells: list[tuple[str, str]] = field(default_factory=list)  # ("md" | "code", source)


SOURCE = Param("SOURCE", "", "video URL or media file path; empty = the source of the previous notebook")
WORKSPACE = Param("WORKSPACE", "", "workspace folder; empty = Drive on Colab (vtx folder), else ./vtx-workspace")

SETUP = '''\
# @title Setup: make vtxlib importable (on a fresh Colab runtime: clone and install, once)
REPO_URL = "https://github.com/OWNER/vtx"  # @param {type:"string"}
import importlib.util, os, pathlib, subprocess, sys


def _find_repo():
    here = pathlib.Path.cwd()
    for folder in (here, *here.parents, pathlib.Path("/content/vtx")):
        if (folder / "vtxlib" / "__init__.py").is_file():
            return folder
    return None


VTX_REPO = _find_repo()
if importlib.util.find_spec("vtxlib") is None:
    if VTX_REPO is None and ("google.colab" in sys.modules or os.environ.get("COLAB_RELEASE_TAG")):
        subprocess.run(["git", "clone", "-q", "--depth", "1", REPO_URL, "/content/vtx"], check=True)
        VTX_REPO = pathlib.Path("/content/vtx")
        sys.path.insert(0, str(VTX_REPO))
        from vtxlib.notebook import install_colab_requirements  # keeps Colab's torch (constraints)
        install_colab_requirements(VTX_REPO / "requirements-colab.txt")
    if VTX_REPO is None:
        raise ModuleNotFoundError("vtxlib is not installed: run `pip install -e .[cpu,notebooks]` in the "
                                  "repository, or open this notebook from inside it")
    if str(VTX_REPO) not in sys.path:
        sys.path.insert(0, str(VTX_REPO))

import logging
logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
logging.getLogger("vtxlib").setLevel(logging.INFO)
from vtxlib import notebook as nb, widgets'''


def stage_notebooks() -> list[Notebook]:
    return [
        Notebook(
            "00_setup_gpu", "Setup: GPU, packages, Drive workspace, secrets",
            "Detects the GPU (a T4 on Colab picks the GPU tier; no GPU picks the embedded CPU tier), installs "
            "`requirements-colab.txt` on Colab only, mounts Google Drive for the workspace (artifacts, model "
            "caches, OAuth token, batch runs) or falls back to a local folder, and checks which secrets exist "
            "without showing them. On Colab choose *Runtime > Change runtime type > T4 GPU* first.",
            [WORKSPACE,
             Param("USE_DRIVE", True, "keep the workspace on Google Drive (Colab)"),
             Param("INSTALL_REQUIREMENTS", True, "pip install -r requirements-colab.txt (Colab only)"),
             Param("MIN_FREE_GB", 1.0, "refuse to start with less free space than this")],
            [("code", "environment = nb.detect_environment()\n"
                      "nb.show_markdown(environment.describe())"),
             ("code", "installed = bool(INSTALL_REQUIREMENTS and VTX_REPO is not None and\n"
                      "                 nb.install_colab_requirements(VTX_REPO / \"requirements-colab.txt\"))\n"
                      "nb.show_markdown(\"requirements-colab.txt installed\" if installed else\n"
                      "                 \"no packages installed (not on Colab, or switched off)\")"),
             ("code", "workspace = nb.open_workspace(WORKSPACE, use_drive=USE_DRIVE, min_free_gb=MIN_FREE_GB)\n"
                      "free_gb = nb.check_free_space(workspace.root, MIN_FREE_GB)\n"
                      "nb.show_markdown(f\"workspace: `{workspace.root}` ({free_gb:.1f} GB free)\")"),
             ("md", "Secrets are looked up in the environment, Colab's key panel and the workspace's `secrets/` "
                    "folder. Only *set* or *missing* is shown."),
             ("code", "secrets = nb.show_secret_status(workspace)"),
             ("code", "# NBVAL_IGNORE_OUTPUT\n"
                      "nb.record(notebook=\"00_setup_gpu\", colab=environment.colab, gpu=environment.gpu,\n"
                      "          tier=environment.tier, installed=installed, workspace=workspace.root,\n"
                      "          free_gb=round(free_gb, 1), secrets=secrets)"),
             ("code", "# NBVAL_CHECK_OUTPUT\n"
                      "print(\"workspace ready:\", workspace.root.is_dir(), \"| secrets checked:\", sorted(secrets))")],
        ),
        Notebook(
            "01_acquire", "Acquire: download or open the media, decode the audio once",
            "Downloads the audio of a video URL with yt-dlp (or opens a local/Drive file) and decodes it once "
            "to 16 kHz mono; every later notebook reads this audio from the workspace. Leave SOURCE empty to "
            "use a 30-second two-speaker sample recording.",
            [SOURCE, WORKSPACE],
            [("code", "result = nb.stage_run(\"audio\", SOURCE, WORKSPACE, allow_sample=True)\n"
                      "nb.show_media(result)"),
             ("code", "# NBVAL_IGNORE_OUTPUT\n"
                      "nb.record(notebook=\"01_acquire\", media_id=result.media.id, title=result.media.title,\n"
                      "          source=result.media.source, duration=round(result.audio.duration, 2),\n"
                      "          audio=result.audio.path)"),
             ("code", "# NBVAL_CHECK_OUTPUT\n"
                      "print(\"audio decoded:\", pathlib.Path(result.audio.path).is_file(),\n"
                      "      \"| sample rate:\", result.audio.sample_rate, \"| channels:\", result.audio.channels)")],
        ),
        Notebook(
            "02_transcribe", "Transcribe: speech to words with timestamps",
            "Speech recognition with word timings. `auto` picks NeMo Parakeet on a GPU and faster-whisper "
            "tiny.en (shipped in a package, offline) on CPU.",
            [SOURCE, WORKSPACE,
             Param("ASR", "auto", "ASR backend", ["auto", "whisper-cpu", "nemo"]),
             Param("ASR_MODEL", "", "model name or path; empty = the backend's default"),
             Param("LANGUAGE", "", "spoken language code such as en; empty = automatic")],
            [("code", "result = nb.stage_run(\"asr\", SOURCE, WORKSPACE, asr=ASR, asr_model=ASR_MODEL, language=LANGUAGE)\n"
                      "nb.show_segments(result.transcript)"),
             ("code", "# NBVAL_IGNORE_OUTPUT\n"
                      "nb.record(notebook=\"02_transcribe\", media_id=result.media.id, words=len(result.transcript.words),\n"
                      "          segments=len(result.transcript.segments), language=result.transcript.language,\n"
                      "          backend=result.transcript.backend, model=result.transcript.model)"),
             ("code", "# NBVAL_CHECK_OUTPUT\n"
                      "print(\"words recognised:\", len(result.transcript.words) > 0)")],
        ),
        Notebook(
            "03_diarize", "Diarize: who spoke when",
            "Speaker diarization. `auto` picks pyannote on a GPU with an HF token, else the embedded CPU "
            "diarizer (pretrained pyannote segmentation-3.0 + CAM++ embeddings through pyannote's pipeline; it estimates the number of speakers and detects overlapped speech). "
            "Set NUM_SPEAKERS when you know it (0 = estimate), or bound it with MIN/MAX_SPEAKERS.",
            [SOURCE, WORKSPACE,
             Param("DIARIZER", "auto", "diarization backend", ["auto", "embedded", "pyannote"]),
             Param("NUM_SPEAKERS", 0, "exact number of speakers; 0 = estimate"),
             Param("MIN_SPEAKERS", 0, "lower bound; 0 = none"),
             Param("MAX_SPEAKERS", 0, "upper bound; 0 = none")],
            [("code", "result = nb.stage_run(\"diarize\", SOURCE, WORKSPACE, diarizer=DIARIZER, num_speakers=NUM_SPEAKERS,\n"
                      "                      min_speakers=MIN_SPEAKERS, max_speakers=MAX_SPEAKERS)\n"
                      "nb.show_speakers(result.diarization)"),
             ("code", "# NBVAL_IGNORE_OUTPUT\n"
                      "nb.record(notebook=\"03_diarize\", media_id=result.media.id, speakers=len(result.diarization.speakers),\n"
                      "          speaker_seconds=nb.speaker_seconds(result.diarization),\n"
                      "          turns=len(result.diarization.turns), overlaps=len(result.diarization.overlaps),\n"
                      "          backend=result.diarization.backend)"),
             ("code", "# NBVAL_CHECK_OUTPUT\n"
                      "print(\"speakers found:\", len(result.diarization.speakers))")],
        ),
        Notebook(
            "04_align", "Align: words to speakers, inspected on a timeline",
            "Gives every word a speaker and groups words into speaker turns. The plot shows one window of the "
            "recording: speaker lanes with word boxes, diarization turns and overlap regions.",
            [SOURCE, WORKSPACE,
             Param("WINDOW_START", 0.0, "plot window start (seconds)"),
             Param("WINDOW_SECONDS", 30.0, "plot window length (seconds)")],
            [("code", "result = nb.stage_run(\"align\", SOURCE, WORKSPACE)\n"
                      "nb.show_turns(result.document)"),
             ("code", "from vtxlib import plots\n\n"
                      "figure = plots.alignment_figure(result.document, diarization=result.diarization, audio=result.audio,\n"
                      "                                start=WINDOW_START, end=WINDOW_START + WINDOW_SECONDS)\n"
                      "nb.show_figure(figure)"),
             ("code", "# NBVAL_IGNORE_OUTPUT\n"
                      "nb.record(notebook=\"04_align\", media_id=result.media.id, turns=len(result.document.transcript.turns),\n"
                      "          words=len(result.document.transcript.words), speakers=len(result.document.speakers),\n"
                      "          overlap_turns=sum(t.overlap for t in result.document.transcript.turns))"),
             ("code", "# NBVAL_CHECK_OUTPUT\n"
                      "print(\"every word has a speaker:\", all(w.speaker for w in result.document.transcript.words))")],
        ),
        Notebook(
            "05_emotion", "Emotion: per-turn labels and a timeline",
            "Labels each speaker turn neutral / happy / angry / sad. On a GPU: SpeechBrain's wav2vec2 IEMOCAP "
            "model; on CPU: the embedded estimator (prosody + word lexicon, see docs/emotion.md; it is not a "
            "trained emotion model). Short turns are marked low-confidence.",
            [SOURCE, WORKSPACE,
             Param("EMOTION", "auto", "emotion backend", ["auto", "embedded", "speechbrain", "off"])],
            [("code", "result = nb.stage_run(\"emotion\", SOURCE, WORKSPACE, emotion=EMOTION)\n"
                      "nb.show_turns(result.document)"),
             ("code", "from vtxlib import plots\n\n"
                      "nb.show_figure(plots.emotion_timeline_figure(result.document))\n"
                      "nb.show_figure(plots.emotion_summary_figure(result.document))"),
             ("code", "# NBVAL_IGNORE_OUTPUT\n"
                      "labelled = [t.emotion for t in result.document.transcript.turns if t.emotion]\n"
                      "nb.record(notebook=\"05_emotion\", media_id=result.media.id, emotions=nb.emotion_counts(result.document),\n"
                      "          labelled_turns=len(labelled), backend=labelled[0].backend if labelled else None)"),
             ("code", "# NBVAL_CHECK_OUTPUT\n"
                      "print(\"turns:\", len(result.document.transcript.turns) > 0)")],
        ),
        Notebook(
            "06_subtitles", "Subtitles: WebVTT / SRT / JSON / RTTM and the HTML report",
            "Writes the subtitle files (at most 42 characters a line, 2 lines a cue, a new cue at every speaker "
            "change, `<v Speaker>` voice tags) and the HTML report into the workspace's `outputs/<media id>/`.",
            [SOURCE, WORKSPACE,
             Param("REPORT", True, "also write report.html"),
             Param("PREVIEW_CUES", 8, "how many cues to preview")],
            [("code", "result = nb.stage_run(\"subtitles\", SOURCE, WORKSPACE, report=REPORT)\n"
                      "nb.show_cues(result.outputs[\"vtt\"], PREVIEW_CUES)"),
             ("code", "sizes = nb.show_outputs(result.outputs)"),
             ("code", "# NBVAL_IGNORE_OUTPUT\n"
                      "nb.record(notebook=\"06_subtitles\", media_id=result.media.id, files=nb.files_written(result.outputs),\n"
                      "          sizes=sizes, output_dir=pathlib.Path(result.outputs[\"vtt\"]).parent,\n"
                      "          speakers=len(result.document.speakers), words=len(result.document.transcript.words),\n"
                      "          duration=round(result.audio.duration, 2))"),
             ("code", "# NBVAL_CHECK_OUTPUT\n"
                      "print(\"files written:\", nb.files_written(result.outputs))")],
        ),
        Notebook(
            "07_enhance", "Enhance: punctuation, summary and chapters with Gemini",
            "Restores punctuation and casing (word timings never change), writes a summary, YouTube chapters "
            "and suggested speaker names. Needs GEMINI_API_KEY (Colab key panel or environment); without one "
            "this notebook says so and leaves the transcript as it is. `auto` = Gemini when a key is set.",
            [SOURCE, WORKSPACE,
             Param("ENHANCE", "auto", "off, auto (Gemini when a key is set) or gemini", ["auto", "gemini", "off"]),
             Param("ENHANCE_MODEL", "", "Gemini model; empty = the default")],
            [("code", "key_set = nb.secret_status(nb.open_workspace(WORKSPACE))[\"GEMINI_API_KEY\"]\n"
                      "nb.show_markdown(\"GEMINI_API_KEY is set\" if key_set else\n"
                      "                 \"GEMINI_API_KEY is missing: enhancement will be skipped\")"),
             ("code", "result = nb.stage_run(\"subtitles\", SOURCE, WORKSPACE, enhance=ENHANCE, enhance_model=ENHANCE_MODEL)\n"
                      "enhanced = nb.show_enhancement(result.document)"),
             ("code", "# NBVAL_IGNORE_OUTPUT\n"
                      "nb.record(notebook=\"07_enhance\", media_id=result.media.id, key_set=key_set, mode=ENHANCE,\n"
                      "          enhanced=enhanced, speakers=len(result.document.speakers),\n"
                      "          words=len(result.document.transcript.words))"),
             ("code", "# NBVAL_CHECK_OUTPUT\n"
                      "print(\"transcript kept:\", len(result.document.transcript.words) > 0)")],
        ),
        Notebook(
            "08_review", "Review: name the speakers, inspect, write the report",
            "Shows the speaker names Gemini suggested (07) — they are applied only when you tick "
            "APPLY_SUGGESTED_NAMES — and applies names you type as `SPEAKER_00=Alice; SPEAKER_01=Bob`. The "
            "names are stored in the workspace, so the subtitles, the report and 09_upload use them.",
            [SOURCE, WORKSPACE,
             Param("SPEAKER_NAMES", "", "SPEAKER_00=Alice; SPEAKER_01=Bob"),
             Param("APPLY_SUGGESTED_NAMES", False, "use the names suggested in 07_enhance")],
            [("code", "nb.show_suggested_names(nb.stage_run(\"enhance\", SOURCE, WORKSPACE).document)"),
             ("code", "names = nb.set_speaker_names(SPEAKER_NAMES, APPLY_SUGGESTED_NAMES, SOURCE, WORKSPACE)\n"
                      "result = nb.stage_run(\"subtitles\", SOURCE, WORKSPACE)\n"
                      "nb.show_turns(result.document, limit=40)"),
             ("md", "Move the slider to inspect any 30-second window: word boxes per speaker, diarization "
                    "turns, overlaps and the waveform."),
             ("code", "from vtxlib import plots\n\n"
                      "plots.interactive_alignment(result.document, diarization=result.diarization, audio=result.audio,\n"
                      "                            window=30.0)"),
             ("code", "sizes = nb.show_outputs(result.outputs)"),
             ("code", "# NBVAL_IGNORE_OUTPUT\n"
                      "nb.record(notebook=\"08_review\", media_id=result.media.id, speaker_names=names,\n"
                      "          report=result.outputs.get(\"report\"), files=nb.files_written(result.outputs),\n"
                      "          speakers=len(result.document.speakers), words=len(result.document.transcript.words),\n"
                      "          duration=round(result.audio.duration, 2))"),
             ("code", "# NBVAL_CHECK_OUTPUT\n"
                      "print(\"report written:\", \"report\" in result.outputs and pathlib.Path(result.outputs[\"report\"]).is_file())")],
        ),
        Notebook(
            "09_upload", "Upload: the caption track to YouTube",
            "Uploads the subtitles as a caption track of a YouTube video you own: `captions.list` first, then "
            "an update of the track with the same language and name, or an insert (400 of 10,000 daily quota "
            "units). DRY_RUN (default) writes the exact request instead of sending it. Put the OAuth client file "
            "in the workspace as `secrets/client_secret.json`; on Colab you paste the redirect address back.",
            [SOURCE, WORKSPACE,
             Param("VIDEO_ID", "", "YouTube video id or URL; empty = the source, when it is a YouTube URL"),
             Param("CAPTION_LANGUAGE", "en", "caption language code"),
             Param("TRACK_NAME", "vtx", "caption track name"),
             Param("FORMAT", "vtt", "caption file format", ["vtt", "srt"]),
             Param("IS_DRAFT", False, "upload as an unpublished draft"),
             Param("DRY_RUN", True, "write the request instead of sending it")],
            [("code", "result = nb.stage_run(\"subtitles\", SOURCE, WORKSPACE)\n"
                      "upload = nb.upload_captions(result, VIDEO_ID, CAPTION_LANGUAGE, TRACK_NAME, FORMAT, IS_DRAFT,\n"
                      "                            DRY_RUN, WORKSPACE)\n"
                      "nb.show_markdown(upload.message)"),
             ("code", "# NBVAL_IGNORE_OUTPUT\n"
                      "nb.record(notebook=\"09_upload\", media_id=result.media.id, **upload.to_dict())"),
             ("code", "# NBVAL_CHECK_OUTPUT\n"
                      "print(\"action:\", upload.action, \"| dry run:\", upload.dry_run)")],
        ),
    ]


def form_cell(params: list[Param]) -> str:
    spec = ",\n".join(f"    {p.name!r}: {p.choices!r}" for p in params)
    helps = ",\n".join(f"    {p.name!r}: {p.help!r}" for p in params)
    return ("# @title Form (Jupyter): edits here set the variables above; on Colab use the form above\n"
            f"form = widgets.parameter_form(globals(), {{\n{spec},\n}}, descriptions={{\n{helps},\n}})")


def parameters_cell(params: list[Param]) -> str:
    lines = ["# @title Parameters", "# papermill injects values after this cell; 0 or empty means automatic"]
    lines += [p.colab_line() for p in params]
    return "\n".join(lines)


def build(spec: Notebook):
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    header = f"# {spec.name}: {spec.title}\n\n{BADGE.format(name=spec.name)}\n\n{spec.intro}"
    cells = [new_markdown_cell(header), new_code_cell(SETUP),
             new_code_cell(parameters_cell(spec.params), metadata={"tags": ["parameters"]}),
             new_code_cell(form_cell(spec.params))]
    for kind, source in spec.cells:
        cells.append(new_markdown_cell(source) if kind == "md" else new_code_cell(source))
    for index, cell in enumerate(cells):
        cell["id"] = f"{spec.name.replace('_', '-')}-{index:02d}"
    notebook = new_notebook(cells=cells, metadata={
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
        "colab": {"provenance": [], "toc_visible": True},
        "accelerator": "GPU",
    })
    nbformat.validate(notebook)
    return notebook


def render(spec: Notebook) -> str:
    import nbformat

    return nbformat.writes(build(spec)) + "\n"


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a notebook differs from its spec")
    parser.add_argument("--out", type=Path, default=NOTEBOOK_DIR)
    args = parser.parse_args(argv)
    specs = stage_notebooks()
    stale = []
    args.out.mkdir(parents=True, exist_ok=True)
    for spec in specs:
        path = args.out / f"{spec.name}.ipynb"
        text = render(spec)
        if args.check:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                stale.append(path.name)
        else:
            path.write_text(text, encoding="utf-8")
    expected = {f"{s.name}.ipynb" for s in specs}
    extra = sorted(p.name for p in args.out.glob("*.ipynb") if p.name not in expected)
    if stale or extra:
        sys.stderr.write(f"notebooks out of date: {', '.join(stale) or 'none'}; unexpected: "
                         f"{', '.join(extra) or 'none'}. Run python tools/make_notebooks.py\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
