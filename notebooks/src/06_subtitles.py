# %% [markdown]
# # 06_subtitles: Subtitles: WebVTT / SRT / JSON / RTTM and the HTML report
#
# Run it on Colab: set `VTX_SOURCE` in the setup cell below (how: docs/notebooks.md).
#
# Writes the subtitle files (at most 42 characters a line, 2 lines a cue, a new cue at every speaker change, `<v Speaker>` voice tags) and the HTML report into the workspace's `outputs/<media id>/`.

# %%
# @title Setup: vtxlib and its packages (on Colab set VTX_SOURCE first: docs/notebooks.md)
VTX_SOURCE = ""  # @param {type:"string"}
import importlib.util, os, pathlib, subprocess, sys

_here = pathlib.Path.cwd()
_repo = next((p for p in (_here, *_here.parents) if (p / "vtxlib" / "colab_install.py").is_file()), None)
if _repo is not None and str(_repo) not in sys.path:
    sys.path.insert(0, str(_repo))  # opened inside a repository: its own vtxlib, even if another is installed
if importlib.util.find_spec("vtxlib") is None:
    VTX_SOURCE = VTX_SOURCE.strip() or os.environ.get("VTX_SOURCE", "").strip()
    if not VTX_SOURCE:
        raise RuntimeError("vtxlib is missing: set VTX_SOURCE in this cell's form to git+https://github.com/"
                           "<you>/vtx, a vtxlib .whl or a .zip of the repository on Drive, or a folder")
    if VTX_SOURCE.startswith("/content/drive/"):
        from google.colab import drive
        drive.mount("/content/drive")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", VTX_SOURCE], check=True)
    importlib.invalidate_caches()

import logging
logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
logging.getLogger("vtxlib").setLevel(logging.INFO)
from vtxlib.colab_install import setup_runtime
VTX_INSTALL = setup_runtime(VTX_SOURCE)  # Colab only: requirements-colab.txt with Colab's torch kept
from vtxlib import notebook as nb, widgets

# %% tags=["parameters"]
# @title Parameters
# papermill injects values after this cell; 0 or empty means automatic
SOURCE = ''  # @param {type:"string"}
WORKSPACE = ''  # @param {type:"string"}
REPORT = True  # @param {type:"boolean"}
VISIBLE_SPEAKER = 'auto'  # @param ["auto", "off", "name", "chevrons"]
PREVIEW_CUES = 8  # @param {type:"integer"}

# %%
# @title Form (Jupyter): edits here set the variables above; on Colab use the form above
form = widgets.parameter_form(globals(), {
    'SOURCE': None,
    'WORKSPACE': None,
    'REPORT': None,
    'VISIBLE_SPEAKER': ['auto', 'off', 'name', 'chevrons'],
    'PREVIEW_CUES': None,
}, descriptions={
    'SOURCE': 'video URL or media file path; empty = the source of the previous notebook',
    'WORKSPACE': 'workspace folder; empty = Drive on Colab (vtx folder), else ./vtx-workspace',
    'REPORT': 'also write report.html',
    'VISIBLE_SPEAKER': 'speaker names as visible caption text: name = Alice: ..., chevrons = >> ALICE: ...; auto = chevrons when uploading',
    'PREVIEW_CUES': 'how many cues to preview',
})

# %%
result = nb.stage_run("subtitles", SOURCE, WORKSPACE, report=REPORT, visible_speaker=VISIBLE_SPEAKER)
nb.show_cues(result.outputs["vtt"], PREVIEW_CUES)

# %%
sizes = nb.show_outputs(result.outputs)

# %%
# NBVAL_IGNORE_OUTPUT
nb.record(notebook="06_subtitles", media_id=result.media.id, files=nb.files_written(result.outputs),
          sizes=sizes, output_dir=pathlib.Path(result.outputs["vtt"]).parent,
          speakers=len(result.document.speakers), words=len(result.document.transcript.words),
          duration=round(result.audio.duration, 2))

# %%
# NBVAL_CHECK_OUTPUT
print("files written:", nb.files_written(result.outputs))
