# %% [markdown]
# # 05_emotion: Emotion: per-turn labels and a timeline
#
# On Colab: the first notebook you run needs `VTX_SOURCE` in the setup cell below (how: docs/notebooks.md); later ones read it from Drive or a Colab secret.
#
# Labels each speaker turn neutral / happy / angry / sad. On a GPU: SpeechBrain's wav2vec2 IEMOCAP model; on CPU: the embedded estimator (prosody + word lexicon, see docs/emotion.md; it is not a trained emotion model). Short turns are marked low-confidence.

# %%
# vtx-setup-cell: the shared setup cell (notebooks/src/_setup.py) goes here

# %% tags=["parameters"]
# @title Parameters
# papermill injects values after this cell; 0 or empty means automatic
SOURCE = ''  # @param {type:"string"}
WORKSPACE = ''  # @param {type:"string"}
EMOTION = 'auto'  # @param ["auto", "embedded", "speechbrain", "off"]

# %%
# @title Form (Jupyter): edits here set the variables above; on Colab use the form above
form = widgets.parameter_form(globals(), {
    'SOURCE': None,
    'WORKSPACE': None,
    'EMOTION': ['auto', 'embedded', 'speechbrain', 'off'],
}, descriptions={
    'SOURCE': 'video URL or media file path; empty = the source of the previous notebook',
    'WORKSPACE': 'workspace folder; empty = Drive on Colab (vtx folder), else ./vtx-workspace',
    'EMOTION': 'emotion backend',
})

# %%
result = nb.stage_run("emotion", SOURCE, WORKSPACE, emotion=EMOTION)
nb.show_turns(result.document)

# %%
from vtxlib import plots

nb.show_figure(plots.emotion_timeline_figure(result.document))
nb.show_figure(plots.emotion_summary_figure(result.document))

# %%
# NBVAL_IGNORE_OUTPUT
labelled = [t.emotion for t in result.document.transcript.turns if t.emotion]
nb.record(notebook="05_emotion", media_id=result.media.id, emotions=nb.emotion_counts(result.document),
          labelled_turns=len(labelled), backend=labelled[0].backend if labelled else None)

# %%
# NBVAL_CHECK_OUTPUT
print("turns:", len(result.document.transcript.turns) > 0)
