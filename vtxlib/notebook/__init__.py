"""Helpers the notebooks call (``from vtxlib import notebook as nb``), one module per concern:

* :mod:`.environment`: Colab or local Python, which GPU, which tier;
* :mod:`.drive`: mounting Drive, the workspace folder and its free space;
* :mod:`.credentials`: which secrets and credential files are set (never their values), the cookies file;
* :mod:`.session`: settings shared between notebooks (``<workspace>/notebook_session.json``);
* :mod:`.runner`: :func:`stage_run` over one Pipeline per kernel, speaker names, the finish cell;
* :mod:`.upload`: captions to YouTube;
* :mod:`.display` and :mod:`.views`: output cells, the machine-readable :func:`record`, stage results.

The notebooks hold no pipeline logic; each one calls :func:`stage_run` with its stage name and its
own form fields, so any notebook can be rerun alone after a disconnect.
"""

from ..colab_install import drive_wanted, flush_drive, in_colab
from ..language import label as language_label
from .credentials import SECRETS, secret_status, show_secret_status, store_cookies, youtube_files
from .display import (
    DOWNLOAD_LINK_MAX_BYTES,
    RECORD_MIME,
    files_written,
    record,
    recorded,
    show_cues,
    show_figure,
    show_markdown,
    show_outputs,
    show_table,
)
from .drive import (
    COLAB_LOCAL_ROOT,
    DRIVE_MOUNT_POINT,
    DriveUnavailable,
    check_free_space,
    mount_drive,
    open_workspace,
    workspace_root,
)
from .environment import EnvironmentInfo, detect_environment
from .runner import close_pipeline, finish_runtime, pipeline_for, progress_hook, set_speaker_names, stage_run
from .session import (
    SESSION_FILE,
    NotebookSession,
    load_session,
    normalise_option,
    parse_speaker_names,
    resolve_source,
    sample_source,
    save_session,
    session_options,
)
from .upload import upload_captions
from .views import (
    emotion_counts,
    language_rows,
    show_enhancement,
    show_language,
    show_media,
    show_segments,
    show_speakers,
    show_suggested_names,
    show_turns,
    show_voice_matches,
    speaker_seconds,
    suggested_names,
)

__all__ = [
    "COLAB_LOCAL_ROOT", "DOWNLOAD_LINK_MAX_BYTES", "DRIVE_MOUNT_POINT", "DriveUnavailable", "EnvironmentInfo",
    "NotebookSession", "RECORD_MIME", "SECRETS", "SESSION_FILE", "check_free_space", "close_pipeline",
    "detect_environment", "drive_wanted", "emotion_counts", "files_written", "finish_runtime", "flush_drive",
    "in_colab", "language_label", "language_rows", "load_session", "mount_drive", "normalise_option",
    "open_workspace", "parse_speaker_names", "pipeline_for", "progress_hook", "record", "recorded", "resolve_source",
    "sample_source", "save_session", "secret_status", "session_options", "set_speaker_names", "show_cues",
    "show_enhancement", "show_figure", "show_language", "show_markdown", "show_media", "show_outputs",
    "show_secret_status", "show_segments", "show_speakers", "show_suggested_names", "show_table", "show_turns",
    "show_voice_matches", "speaker_seconds", "stage_run", "store_cookies", "suggested_names", "upload_captions",
    "workspace_root", "youtube_files",
]
