# %% [markdown]
# # 00_setup_gpu: Setup: GPU, packages, Drive workspace, secrets
#
# On Colab: the first notebook you run needs `VTX_SOURCE` in the setup cell below (how: docs/notebooks.md); later ones read it from Drive or a Colab secret.
#
# Detects the GPU (a T4 on Colab picks the GPU tier; no GPU picks the embedded CPU tier), installs `requirements-colab.txt` on Colab only (the setup cell: Colab's torch is kept, wheels are cached on Drive so the later notebooks install in seconds, and nothing Colab has already imported changes, so the runtime never restarts), mounts Google Drive for the workspace (artifacts, model caches, OAuth token, batch runs) or falls back to a local folder (untick USE_DRIVE in the setup cell to keep everything on the runtime's disk), and checks which secrets exist without showing them. On Colab choose *Runtime > Change runtime type > T4 GPU* first.

# %%
# vtx-setup-cell: the shared setup cell (notebooks/src/_setup.py) goes here

# %% tags=["parameters"]
# @title Parameters
# papermill injects values after this cell; 0 or empty means automatic
WORKSPACE = ''  # @param {type:"string"}
MIN_FREE_GB = 1.0  # @param {type:"number"}

# %%
# @title Form (Jupyter): edits here set the variables above; on Colab use the form above
form = widgets.parameter_form(globals(), {
    'WORKSPACE': None,
    'MIN_FREE_GB': None,
}, descriptions={
    'WORKSPACE': 'workspace folder; empty = Drive on Colab (vtx folder), else ./vtx-workspace',
    'MIN_FREE_GB': 'refuse to start with less free space than this',
})

# %%
environment = nb.detect_environment()
nb.show_markdown(environment.describe())

# %%
installed = VTX_INSTALL.installed
nb.show_markdown(VTX_INSTALL.describe())

# %%
workspace = nb.open_workspace(WORKSPACE, use_drive=USE_DRIVE, min_free_gb=MIN_FREE_GB)
free_gb = nb.check_free_space(workspace.root, MIN_FREE_GB)
nb.show_markdown(f"workspace: `{workspace.root}` ({free_gb:.1f} GB free)")

# %% [markdown]
# Secrets are looked up in the environment, Colab's key panel and the workspace's `secrets/` folder. Only *set* or *missing* is shown.

# %%
secrets = nb.show_secret_status(workspace)

# %%
# NBVAL_IGNORE_OUTPUT
nb.record(notebook="00_setup_gpu", colab=environment.colab, gpu=environment.gpu,
          tier=environment.tier, installed=installed, workspace=workspace.root,
          free_gb=round(free_gb, 1), secrets=secrets)

# %%
# NBVAL_CHECK_OUTPUT
print("workspace ready:", workspace.root.is_dir(), "| secrets checked:", sorted(secrets))
