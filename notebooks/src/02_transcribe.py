# %% [markdown]
# # 02_transcribe: Transcribe: speech to words with timestamps
#
# Run it on Colab: set `VTX_SOURCE` in the setup cell below (how: docs/notebooks.md).
#
# Speech recognition with word timings. `auto` picks NeMo Parakeet on a GPU and faster-whisper tiny.en (shipped in a package, offline) on CPU.

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
ASR = 'auto'  # @param ["auto", "whisper-cpu", "nemo"]
ASR_MODEL = ''  # @param {type:"string"}
LANGUAGE = ''  # @param {type:"string"}

# %%
# @title Form (Jupyter): edits here set the variables above; on Colab use the form above
form = widgets.parameter_form(globals(), {
    'SOURCE': None,
    'WORKSPACE': None,
    'ASR': ['auto', 'whisper-cpu', 'nemo'],
    'ASR_MODEL': None,
    'LANGUAGE': None,
}, descriptions={
    'SOURCE': 'video URL or media file path; empty = the source of the previous notebook',
    'WORKSPACE': 'workspace folder; empty = Drive on Colab (vtx folder), else ./vtx-workspace',
    'ASR': 'ASR backend',
    'ASR_MODEL': "model name or path; empty = the backend's default",
    'LANGUAGE': 'spoken language code such as en; empty = automatic',
})

# %%
result = nb.stage_run("asr", SOURCE, WORKSPACE, asr=ASR, asr_model=ASR_MODEL, language=LANGUAGE)
nb.show_segments(result.transcript)

# %%
# NBVAL_IGNORE_OUTPUT
nb.record(notebook="02_transcribe", media_id=result.media.id, words=len(result.transcript.words),
          segments=len(result.transcript.segments), language=result.transcript.language,
          backend=result.transcript.backend, model=result.transcript.model)

# %%
# NBVAL_CHECK_OUTPUT
print("words recognised:", len(result.transcript.words) > 0)
