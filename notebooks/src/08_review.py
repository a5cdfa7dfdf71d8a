# %% [markdown]
# # 08_review: Review: name the speakers, inspect, write the report
#
# On Colab: the first notebook you run needs `VTX_SOURCE` in the setup cell below (how: docs/notebooks.md); later ones read it from Drive or a Colab secret.
#
# Shows the speaker names Gemini suggested (07) — they are applied only when you tick APPLY_SUGGESTED_NAMES — and applies names you type as `SPEAKER_00=Alice; SPEAKER_01=Bob`. The names are stored in the workspace, so the subtitles, the report and 09_upload use them.

# %%
# vtx-setup-cell: the shared setup cell (notebooks/src/_setup.py) goes here

# %% tags=["parameters"]
# @title Parameters
# papermill injects values after this cell; 0 or empty means automatic
SOURCE = ''  # @param {type:"string"}
WORKSPACE = ''  # @param {type:"string"}
SPEAKER_NAMES = ''  # @param {type:"string"}
APPLY_SUGGESTED_NAMES = False  # @param {type:"boolean"}
VOICES = ''  # @param {type:"string"}

# %%
# @title Form (Jupyter): edits here set the variables above; on Colab use the form above
form = widgets.parameter_form(globals(), {
    'SOURCE': None,
    'WORKSPACE': None,
    'SPEAKER_NAMES': None,
    'APPLY_SUGGESTED_NAMES': None,
    'VOICES': None,
}, descriptions={
    'SOURCE': 'video URL or media file path; empty = the source of the previous notebook',
    'WORKSPACE': 'workspace folder; empty = Drive on Colab (vtx folder), else ./vtx-workspace',
    'SPEAKER_NAMES': 'SPEAKER_00=Alice; SPEAKER_01=Bob',
    'APPLY_SUGGESTED_NAMES': 'use the names suggested in 07_enhance',
    'VOICES': 'folder of voice clips: one per person (Alice.wav) or a folder per person; empty = none',
})

# %%
nb.show_suggested_names(nb.stage_run("enhance", SOURCE, WORKSPACE).document)

# %%
# @title Names: typed (and suggested, if ticked), then from voice clips (a Drive folder: Alice.wav, or a folder of clips per person); typed names win
names = nb.set_speaker_names(SPEAKER_NAMES, APPLY_SUGGESTED_NAMES, SOURCE, WORKSPACE)
result = nb.stage_run("subtitles", SOURCE, WORKSPACE, voices=VOICES)  # the subtitles and the report, once
voice_rows = nb.show_voice_matches(result.document)
nb.show_turns(result.document, limit=40)

# %% [markdown]
# The whole file, the same figure as in report.html: a lane per speaker (pale: diarization turns, dark: words), overlapping speech in orange, the emotion strip under each lane, the waveform on top. Hover a word for its time, probability, speaker and emotion; zoom with − / +, Ctrl/⌘ + wheel or a double-click, drag to pan. The player above the lanes plays the file; a click on the timeline plays from there (files over 10 minutes have no player here: open report.html). Saved and exported notebooks keep a static picture of it.

# %%
# NBVAL_IGNORE_OUTPUT
from vtxlib import plots

plots.review_figure(result.document, diarization=result.diarization, audio=result.audio)

# %%
sizes = nb.show_outputs(result.outputs)

# %%
# NBVAL_IGNORE_OUTPUT
nb.record(notebook="08_review", media_id=result.media.id, speaker_names=names,
          report=result.outputs.get("report"), files=nb.files_written(result.outputs),
          speakers=len(result.document.speakers), words=len(result.document.transcript.words),
          duration=round(result.audio.duration, 2))

# %%
# NBVAL_CHECK_OUTPUT
print("report written:", "report" in result.outputs and pathlib.Path(result.outputs["report"]).is_file())
