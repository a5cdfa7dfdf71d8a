# %% [markdown]
# # 09_upload: Upload: the caption track to YouTube
#
# Run it on Colab: set `VTX_SOURCE` in the setup cell below (how: docs/notebooks.md).
#
# Uploads the subtitles as a caption track of a YouTube video you own: `captions.list` first, then an update of the track with the same language and name, or an insert (400 of 10,000 daily quota units). DRY_RUN (default) writes the exact request instead of sending it. Put the OAuth client file in the workspace as `secrets/client_secret.json`; on Colab you paste the redirect address back.

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
VIDEO_ID = ''  # @param {type:"string"}
CAPTION_LANGUAGE = 'en'  # @param {type:"string"}
TRACK_NAME = 'vtx'  # @param {type:"string"}
FORMAT = 'vtt'  # @param ["vtt", "srt"]
IS_DRAFT = False  # @param {type:"boolean"}
DRY_RUN = True  # @param {type:"boolean"}

# %%
# @title Form (Jupyter): edits here set the variables above; on Colab use the form above
form = widgets.parameter_form(globals(), {
    'SOURCE': None,
    'WORKSPACE': None,
    'VIDEO_ID': None,
    'CAPTION_LANGUAGE': None,
    'TRACK_NAME': None,
    'FORMAT': ['vtt', 'srt'],
    'IS_DRAFT': None,
    'DRY_RUN': None,
}, descriptions={
    'SOURCE': 'video URL or media file path; empty = the source of the previous notebook',
    'WORKSPACE': 'workspace folder; empty = Drive on Colab (vtx folder), else ./vtx-workspace',
    'VIDEO_ID': 'YouTube video id or URL; empty = the source, when it is a YouTube URL',
    'CAPTION_LANGUAGE': 'caption language code',
    'TRACK_NAME': 'caption track name',
    'FORMAT': 'caption file format',
    'IS_DRAFT': 'upload as an unpublished draft',
    'DRY_RUN': 'write the request instead of sending it',
})

# %%
result = nb.stage_run("subtitles", SOURCE, WORKSPACE)
upload = nb.upload_captions(result, VIDEO_ID, CAPTION_LANGUAGE, TRACK_NAME, FORMAT, IS_DRAFT,
                            DRY_RUN, WORKSPACE)
nb.show_markdown(upload.message)

# %%
# NBVAL_IGNORE_OUTPUT
nb.record(notebook="09_upload", media_id=result.media.id, **upload.model_dump(mode="json"))

# %%
# NBVAL_CHECK_OUTPUT
print("action:", upload.action, "| dry run:", upload.dry_run)
