# %% [markdown]
# # 01_acquire: Acquire: download or open the media, decode the audio once
#
# On Colab: the first notebook you run needs `VTX_SOURCE` in the setup cell below (how: docs/notebooks.md); later ones read it from Drive or a Colab secret.
#
# Downloads the audio of a video URL with yt-dlp (or opens a local/Drive file) and decodes it once to 16 kHz mono; every later notebook reads this audio from the workspace. Leave SOURCE empty to use a 30-second two-speaker sample recording.

# %%
# vtx-setup-cell: the shared setup cell (notebooks/src/_setup.py) goes here

# %% tags=["parameters"]
# @title Parameters
# papermill injects values after this cell; 0 or empty means automatic
SOURCE = ''  # @param {type:"string"}
WORKSPACE = ''  # @param {type:"string"}
COOKIES = ''  # @param {type:"string"}

# %%
# @title Form (Jupyter): edits here set the variables above; on Colab use the form above
form = widgets.parameter_form(globals(), {
    'SOURCE': None,
    'WORKSPACE': None,
    'COOKIES': None,
}, descriptions={
    'SOURCE': 'video URL or media file path; empty = the source of the previous notebook',
    'WORKSPACE': 'workspace folder; empty = Drive on Colab (vtx folder), else ./vtx-workspace',
    'COOKIES': 'a cookies.txt for sites that ask to sign in (YouTube: "confirm you\'re not a bot"); kept with the secrets',
})

# %%
result = nb.stage_run("audio", SOURCE, WORKSPACE, allow_sample=True, cookies=COOKIES)
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
