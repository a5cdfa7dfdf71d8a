# %% [markdown]
# # 06_subtitles: Subtitles: WebVTT / SRT / JSON / RTTM and the HTML report
#
# On Colab: the first notebook you run needs `VTX_SOURCE` in the setup cell below (how: docs/notebooks.md); later ones read it from Drive or a Colab secret.
#
# Writes the subtitle files (at most 42 characters a line, 2 lines a cue, a new cue at every speaker change, `<v Speaker>` voice tags; Chinese, Japanese and Thai in characters, Arabic and Hebrew right to left) and the HTML report into the workspace's `outputs/<media id>/`. TRANSLATE adds translated tracks (`transcript.<lang>.vtt`/`.srt`, the original's cues and times): Gemini with a GEMINI_API_KEY for any language, Whisper offline into English, Canary on a GPU for English <-> German/Spanish/French.

# %%
# vtx-setup-cell: the shared setup cell (notebooks/src/_setup.py) goes here

# %% tags=["parameters"]
# @title Parameters
# papermill injects values after this cell; 0 or empty means automatic
SOURCE = ''  # @param {type:"string"}
WORKSPACE = ''  # @param {type:"string"}
REPORT = True  # @param {type:"boolean"}
VISIBLE_SPEAKER = 'auto'  # @param ["auto", "off", "name", "chevrons"]
TRANSLATE = ''  # @param {type:"string"}
TRANSLATOR = 'auto'  # @param ["auto", "gemini", "whisper", "canary"]
PREVIEW_CUES = 8  # @param {type:"integer"}

# %%
# @title Form (Jupyter): edits here set the variables above; on Colab use the form above
form = widgets.parameter_form(globals(), {
    'SOURCE': None,
    'WORKSPACE': None,
    'REPORT': None,
    'VISIBLE_SPEAKER': ['auto', 'off', 'name', 'chevrons'],
    'TRANSLATE': None,
    'TRANSLATOR': ['auto', 'gemini', 'whisper', 'canary'],
    'PREVIEW_CUES': None,
}, descriptions={
    'SOURCE': 'video URL or media file path; empty = the source of the previous notebook',
    'WORKSPACE': 'workspace folder; empty = Drive on Colab (vtx folder), else ./vtx-workspace',
    'REPORT': 'also write report.html',
    'VISIBLE_SPEAKER': 'speaker names as visible caption text: name = Alice: ..., chevrons = >> ALICE: ...; auto = chevrons when uploading',
    'TRANSLATE': 'translated caption tracks: language codes separated by commas, e.g. en,fr; empty = none',
    'TRANSLATOR': 'translation backend: auto = gemini with a key, canary on a GPU for its pairs, else whisper (English only)',
    'PREVIEW_CUES': 'how many cues to preview',
})

# %%
result = nb.stage_run("translate", SOURCE, WORKSPACE, report=REPORT, visible_speaker=VISIBLE_SPEAKER,
                      translate=TRANSLATE, translator=TRANSLATOR)
nb.show_cues(result.outputs["vtt"], PREVIEW_CUES)

# %%
sizes = nb.show_outputs(result.outputs)

# %%
# NBVAL_IGNORE_OUTPUT
nb.record(notebook="06_subtitles", media_id=result.media.id, files=nb.files_written(result.outputs),
          sizes=sizes, output_dir=pathlib.Path(result.outputs["vtt"]).parent,
          speakers=len(result.document.speakers), words=len(result.document.transcript.words),
          language=nb.language_label(result.document.language_detection, result.document.language),
          duration=round(result.audio.duration, 2))

# %%
# NBVAL_CHECK_OUTPUT
print("files written:", nb.files_written(result.outputs))
