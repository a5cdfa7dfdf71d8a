# %% [markdown]
# # 09_upload: Upload: the caption track to YouTube
#
# On Colab: the first notebook you run needs `VTX_SOURCE` in the setup cell below (how: docs/notebooks.md); later ones read it from Drive or a Colab secret.
#
# Uploads the subtitles, and each translated track made by 06_subtitles (TRANSLATE), as caption tracks of a YouTube video you own, each in its own language: `captions.list` first, then an update of the track with the same language and name, or an insert (400 of 10,000 daily quota units). DRY_RUN (default) writes the exact request instead of sending it. Put the OAuth client file in the workspace as `secrets/client_secret.json`; on Colab you paste the redirect address back.

# %%
# vtx-setup-cell: the shared setup cell (notebooks/src/_setup.py) goes here

# %% tags=["parameters"]
# @title Parameters
# papermill injects values after this cell; 0 or empty means automatic
SOURCE = ''  # @param {type:"string"}
WORKSPACE = ''  # @param {type:"string"}
VIDEO_ID = ''  # @param {type:"string"}
CAPTION_LANGUAGE = ''  # @param {type:"string"}
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
    'CAPTION_LANGUAGE': "the original track's language code; empty = the transcript's language",
    'TRACK_NAME': 'caption track name',
    'FORMAT': 'caption file format',
    'IS_DRAFT': 'upload as an unpublished draft',
    'DRY_RUN': 'write the request instead of sending it',
})

# %%
result = nb.stage_run("translate", SOURCE, WORKSPACE)
upload = nb.upload_captions(result, VIDEO_ID, CAPTION_LANGUAGE, TRACK_NAME, FORMAT, IS_DRAFT,
                            DRY_RUN, WORKSPACE)
nb.show_markdown(upload.message)

# %%
# NBVAL_IGNORE_OUTPUT
nb.record(notebook="09_upload", media_id=result.media.id, **upload.results[0].model_dump(mode="json"),
          tracks=[r.model_dump(mode="json") for r in upload.results])

# %%
# NBVAL_CHECK_OUTPUT
print("action:", upload.action, "| dry run:", upload.results[0].dry_run)
