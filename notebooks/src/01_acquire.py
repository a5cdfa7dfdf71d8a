# %% [markdown]
# # 01_acquire: Acquire: download or open the media, decode the audio once
#
# Run it on Colab: set `VTX_SOURCE` in the setup cell below (how: docs/notebooks.md).
#
# Downloads the audio of a video URL with yt-dlp (or opens a local/Drive file) and decodes it once to 16 kHz mono; every later notebook reads this audio from the workspace. Leave SOURCE empty to use a 30-second two-speaker sample recording.

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

# %%
# @title Form (Jupyter): edits here set the variables above; on Colab use the form above
form = widgets.parameter_form(globals(), {
    'SOURCE': None,
    'WORKSPACE': None,
}, descriptions={
    'SOURCE': 'video URL or media file path; empty = the source of the previous notebook',
    'WORKSPACE': 'workspace folder; empty = Drive on Colab (vtx folder), else ./vtx-workspace',
})

# %%
result = nb.stage_run("audio", SOURCE, WORKSPACE, allow_sample=True)
nb.show_media(result)

# %%
# NBVAL_IGNORE_OUTPUT
nb.record(notebook="01_acquire", media_id=result.media.id, title=result.media.title,
          source=result.media.source, duration=round(result.audio.duration, 2),
          audio=result.audio.path)

# %%
# NBVAL_CHECK_OUTPUT
print("audio decoded:", pathlib.Path(result.audio.path).is_file(),
      "| sample rate:", result.audio.sample_rate, "| channels:", result.audio.channels)
