# %% [markdown]
# # 00_quickstart: Quick start: a video in, captions out, in one runtime
#
# On Colab: the first notebook you run needs `VTX_SOURCE` in the setup cell below (how: docs/notebooks.md); later ones read it from Drive or a Colab secret.
#
# For captions rather than a tour: set-up, download and decode (01), every stage up to the subtitle files and the report (02–06), optionally Gemini's punctuation and summary (07, with a `GEMINI_API_KEY` secret), speaker names (08) and the YouTube upload (09, a dry run unless unticked), all in this one runtime. On Colab choose *Runtime > Change runtime type > T4 GPU* first, then *Runtime > Run all*. Leave SOURCE empty to caption a 30-second two-speaker sample.

# %%
# vtx-setup-cell: the shared setup cell (notebooks/src/_setup.py) goes here

# %% tags=["parameters"]
# @title Parameters
# papermill injects values after this cell; 0 or empty means automatic
SOURCE = ''  # @param {type:"string"}
WORKSPACE = ''  # @param {type:"string"}
COOKIES = ''  # @param {type:"string"}
NUM_SPEAKERS = 0  # @param {type:"integer"}
LANGUAGE = ''  # @param {type:"string"}
ENHANCE = 'auto'  # @param ["auto", "gemini", "off"]
SPEAKER_NAMES = ''  # @param {type:"string"}
VIDEO_ID = ''  # @param {type:"string"}
DRY_RUN = True  # @param {type:"boolean"}

# %%
# @title Form (Jupyter): edits here set the variables above; on Colab use the form above
form = widgets.parameter_form(globals(), {
    'SOURCE': None,
    'WORKSPACE': None,
    'COOKIES': None,
    'NUM_SPEAKERS': None,
    'LANGUAGE': None,
    'ENHANCE': ['auto', 'gemini', 'off'],
    'SPEAKER_NAMES': None,
    'VIDEO_ID': None,
    'DRY_RUN': None,
}, descriptions={
    'SOURCE': 'video URL or media file path; empty = a 30-second sample',
    'WORKSPACE': 'workspace folder; empty = Drive on Colab (vtx folder), else ./vtx-workspace',
    'COOKIES': 'a cookies.txt for sites that ask to sign in (YouTube: "confirm you\'re not a bot"); kept with the secrets',
    'NUM_SPEAKERS': 'exact number of speakers; 0 = estimate',
    'LANGUAGE': 'spoken language code such as es; empty = identified from the speech',
    'ENHANCE': 'Gemini punctuation, summary, chapters: auto = when GEMINI_API_KEY is set',
    'SPEAKER_NAMES': 'SPEAKER_00=Alice; SPEAKER_01=Bob (empty = keep the labels)',
    'VIDEO_ID': 'YouTube video to caption; empty = no upload (or the source, when DRY_RUN is unticked and it is a YouTube URL)',
    'DRY_RUN': 'write the upload request instead of sending it',
})

# %%
environment = nb.detect_environment()
nb.show_markdown(environment.describe() + " | " + VTX_INSTALL.describe())

# %%
audio = nb.stage_run("audio", SOURCE, WORKSPACE, allow_sample=True, cookies=COOKIES)
nb.show_media(audio)

# %%
result = nb.stage_run("subtitles", SOURCE, WORKSPACE, num_speakers=NUM_SPEAKERS, language=LANGUAGE,
                      enhance=ENHANCE)
if SPEAKER_NAMES.strip():
    nb.set_speaker_names(SPEAKER_NAMES, source=SOURCE, workspace=WORKSPACE)
    result = nb.stage_run("subtitles", SOURCE, WORKSPACE, language=LANGUAGE)
nb.show_language(result.document.language_detection)
nb.show_cues(result.outputs["vtt"], 8)

# %%
sizes = nb.show_outputs(result.outputs)
enhanced = nb.show_enhancement(result.document)

# %%
upload = None
if VIDEO_ID.strip() or not DRY_RUN:
    upload = nb.upload_captions(result, VIDEO_ID, dry_run=DRY_RUN, workspace=WORKSPACE)
    nb.show_markdown(upload.message)

# %%
# NBVAL_IGNORE_OUTPUT
nb.record(notebook="00_quickstart", media_id=result.media.id, files=nb.files_written(result.outputs),
          output_dir=pathlib.Path(result.outputs["vtt"]).parent, speakers=len(result.document.speakers),
          words=len(result.document.transcript.words), enhanced=enhanced,
          speaker_names=result.document.speaker_names,
          upload=upload.results[0].model_dump(mode="json") if upload is not None else None,
          tracks=[r.model_dump(mode="json") for r in upload.results] if upload is not None else [])

# %%
# NBVAL_CHECK_OUTPUT
print("files written:", nb.files_written(result.outputs))
