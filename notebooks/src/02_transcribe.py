# %% [markdown]
# # 02_transcribe: Transcribe: speech to words with timestamps
#
# On Colab: the first notebook you run needs `VTX_SOURCE` in the setup cell below (how: docs/notebooks.md); later ones read it from Drive or a Colab secret.
#
# Speech recognition with word timings. `auto` picks NeMo Parakeet on a GPU and faster-whisper tiny.en (shipped in a package, offline) on CPU.
#
# Hosted recognizers (AssemblyAI, Gemini) upload the audio: only with `ALLOW_CLOUD` ticked and a key in Colab secrets (`ASSEMBLYAI_API_KEY`, `GEMINI_API_KEY`). Then `auto` tries them first and falls back to the local models; `CLOUD_DRY_RUN` shows the requests without sending them (docs/asr_cloud.md).

# %%
# vtx-setup-cell: the shared setup cell (notebooks/src/_setup.py) goes here

# %% tags=["parameters"]
# @title Parameters
# papermill injects values after this cell; 0 or empty means automatic
SOURCE = ''  # @param {type:"string"}
WORKSPACE = ''  # @param {type:"string"}
ASR = 'auto'  # @param ["auto", "whisper-cpu", "nemo", "assemblyai", "gemini"]
ASR_MODEL = ''  # @param {type:"string"}
LANGUAGE = ''  # @param {type:"string"}
ALLOW_CLOUD = False  # @param {type:"boolean"}
CLOUD_DRY_RUN = False  # @param {type:"boolean"}

# %%
# @title Form (Jupyter): edits here set the variables above; on Colab use the form above
form = widgets.parameter_form(globals(), {
    'SOURCE': None,
    'WORKSPACE': None,
    'ASR': ['auto', 'whisper-cpu', 'nemo', 'assemblyai', 'gemini'],
    'ASR_MODEL': None,
    'LANGUAGE': None,
    'ALLOW_CLOUD': None,
    'CLOUD_DRY_RUN': None,
}, descriptions={
    'SOURCE': 'video URL or media file path; empty = the source of the previous notebook',
    'WORKSPACE': 'workspace folder; empty = Drive on Colab (vtx folder), else ./vtx-workspace',
    'ASR': 'ASR backend',
    'ASR_MODEL': "model name or path; empty = the backend's default",
    'LANGUAGE': 'spoken language code such as en; empty = automatic',
    'ALLOW_CLOUD': 'allow uploading the audio to AssemblyAI/Gemini (keys in Colab secrets); off = nothing leaves',
    'CLOUD_DRY_RUN': 'show the requests a hosted recognizer would get, send nothing',
})

# %%
result = nb.stage_run("asr", SOURCE, WORKSPACE, asr=ASR, asr_model=ASR_MODEL, language=LANGUAGE,
                      allow_cloud=ALLOW_CLOUD, cloud_dry_run=CLOUD_DRY_RUN)
nb.show_language(result.transcript.language_detection)
nb.show_segments(result.transcript)

# %%
# NBVAL_IGNORE_OUTPUT
nb.record(notebook="02_transcribe", media_id=result.media.id, words=len(result.transcript.words),
          segments=len(result.transcript.segments),
          language=nb.language_label(result.transcript.language_detection, result.transcript.language),
          backend=result.transcript.backend, model=result.transcript.model)

# %%
# NBVAL_CHECK_OUTPUT
print("words recognised:", len(result.transcript.words) > 0)
