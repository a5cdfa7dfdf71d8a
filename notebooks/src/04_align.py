# %% [markdown]
# # 04_align: Align: words to speakers, inspected on a timeline
#
# On Colab: the first notebook you run needs `VTX_SOURCE` in the setup cell below (how: docs/notebooks.md); later ones read it from Drive or a Colab secret.
#
# Gives every word a speaker and groups words into speaker turns. The plot shows one window of the recording: speaker lanes with word boxes, diarization turns and overlap regions.

# %%
# vtx-setup-cell: the shared setup cell (notebooks/src/_setup.py) goes here

# %% tags=["parameters"]
# @title Parameters
# papermill injects values after this cell; 0 or empty means automatic
SOURCE = ''  # @param {type:"string"}
WORKSPACE = ''  # @param {type:"string"}
WINDOW_START = 0.0  # @param {type:"number"}
WINDOW_SECONDS = 30.0  # @param {type:"number"}

# %%
# @title Form (Jupyter): edits here set the variables above; on Colab use the form above
form = widgets.parameter_form(globals(), {
    'SOURCE': None,
    'WORKSPACE': None,
    'WINDOW_START': None,
    'WINDOW_SECONDS': None,
}, descriptions={
    'SOURCE': 'video URL or media file path; empty = the source of the previous notebook',
    'WORKSPACE': 'workspace folder; empty = Drive on Colab (vtx folder), else ./vtx-workspace',
    'WINDOW_START': 'plot window start (seconds)',
    'WINDOW_SECONDS': 'plot window length (seconds)',
})

# %%
result = nb.stage_run("align", SOURCE, WORKSPACE)
nb.show_turns(result.document)

# %%
from vtxlib import plots

figure = plots.alignment_figure(result.document, diarization=result.diarization, audio=result.audio,
                                start=WINDOW_START, end=WINDOW_START + WINDOW_SECONDS)
nb.show_figure(figure)

# %%
# NBVAL_IGNORE_OUTPUT
nb.record(notebook="04_align", media_id=result.media.id, turns=len(result.document.transcript.turns),
          words=len(result.document.transcript.words), speakers=len(result.document.speakers),
          overlap_turns=sum(t.overlap for t in result.document.transcript.turns))

# %%
# NBVAL_CHECK_OUTPUT
print("every word has a speaker:", all(w.speaker for w in result.document.transcript.words))
