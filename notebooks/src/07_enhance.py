# %% [markdown]
# # 07_enhance: Enhance: punctuation, summary and chapters with Gemini
#
# On Colab: the first notebook you run needs `VTX_SOURCE` in the setup cell below (how: docs/notebooks.md); later ones read it from Drive or a Colab secret.
#
# Restores punctuation and casing (word timings never change), writes a summary, YouTube chapters and suggested speaker names. Needs GEMINI_API_KEY (Colab key panel or environment); without one this notebook says so and leaves the transcript as it is. `auto` = Gemini when a key is set.

# %%
# vtx-setup-cell: the shared setup cell (notebooks/src/_setup.py) goes here

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
