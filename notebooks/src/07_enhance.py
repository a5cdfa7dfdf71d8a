# %% [markdown]
# # 07_enhance: Enhance: punctuation, summary and chapters with Gemini
#
# Run it on Colab: set `VTX_SOURCE` in the setup cell below (how: docs/notebooks.md).
#
# Restores punctuation and casing (word timings never change), writes a summary, YouTube chapters and suggested speaker names. Needs GEMINI_API_KEY (Colab key panel or environment); without one this notebook says so and leaves the transcript as it is. `auto` = Gemini when a key is set.

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
ENHANCE = 'auto'  # @param ["auto", "gemini", "off"]
ENHANCE_MODEL = ''  # @param {type:"string"}

# %%
# @title Form (Jupyter): edits here set the variables above; on Colab use the form above
form = widgets.parameter_form(globals(), {
    'SOURCE': None,
    'WORKSPACE': None,
    'ENHANCE': ['auto', 'gemini', 'off'],
    'ENHANCE_MODEL': None,
}, descriptions={
    'SOURCE': 'video URL or media file path; empty = the source of the previous notebook',
    'WORKSPACE': 'workspace folder; empty = Drive on Colab (vtx folder), else ./vtx-workspace',
    'ENHANCE': 'off, auto (Gemini when a key is set) or gemini',
    'ENHANCE_MODEL': 'Gemini model; empty = the default',
})

# %%
key_set = nb.secret_status(nb.open_workspace(WORKSPACE))["GEMINI_API_KEY"]
nb.show_markdown("GEMINI_API_KEY is set" if key_set else
                 "GEMINI_API_KEY is missing: enhancement will be skipped")

# %%
result = nb.stage_run("subtitles", SOURCE, WORKSPACE, enhance=ENHANCE, enhance_model=ENHANCE_MODEL)
enhanced = nb.show_enhancement(result.document)

# %%
# NBVAL_IGNORE_OUTPUT
nb.record(notebook="07_enhance", media_id=result.media.id, key_set=key_set, mode=ENHANCE,
          enhanced=enhanced, speakers=len(result.document.speakers),
          words=len(result.document.transcript.words))

# %%
# NBVAL_CHECK_OUTPUT
print("transcript kept:", len(result.document.transcript.words) > 0)
