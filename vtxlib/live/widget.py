"""Record / Stop / Save buttons and a live transcript in a notebook."""

from __future__ import annotations

import html
import logging
from typing import Callable, Optional

from ..colab_install import in_colab
from ..errors import missing_dependency
from .capture import AudioSource, ColabMicSource, SoundDeviceSource
from .session import Utterance
from .transcriber import LiveTranscriber, create_live_transcriber

log = logging.getLogger("vtxlib.live")

def default_source() -> AudioSource:
    """The browser microphone in Colab, the local one elsewhere."""
    return ColabMicSource() if in_colab() else SoundDeviceSource()


def live_widget(transcriber: Optional[LiveTranscriber] = None, workspace=None,
                source_factory: Optional[Callable[[], AudioSource]] = None):
    """Record / Stop / Save buttons and a live transcript area (ipywidgets).

    ``source_factory`` makes a fresh :class:`AudioSource` per recording (default: the browser
    microphone in Colab, the local one elsewhere). The returned box has ``.transcriber`` and
    ``.session()`` for use from later cells.
    """
    try:
        import ipywidgets as widgets
    except ImportError as e:
        raise missing_dependency("ipywidgets", "notebook", "The live transcription widget") from e
    transcriber = transcriber or create_live_transcriber()
    source_factory = source_factory or default_source
    record = widgets.Button(description="Record", icon="microphone", button_style="danger")
    stop = widgets.Button(description="Stop", icon="stop", disabled=True)
    save = widgets.Button(description="Save", icon="save", disabled=True)
    status = widgets.HTML("<span id='vtx-live-status'>ready</span>")
    transcript = widgets.HTML(layout=widgets.Layout(max_height="320px", overflow_y="auto"))
    lines: list[str] = []

    def show(utterance: Utterance) -> None:
        note = transcriber.session.language_note
        if note and not any("vtx-live-language" in line for line in lines):  # the language check decided
            lines.append(f"<div class='vtx-live-language'><i>{html.escape(note)}</i></div>")
        who = f"<b>{html.escape(utterance.speaker)}</b>: " if utterance.speaker else ""
        lines.append(f"<div>[{utterance.start:7.2f}] {who}{html.escape(utterance.text)} "
                     f"<small style='color:#888'>({utterance.latency_s:.1f} s)</small></div>")
        transcript.value = "".join(lines)

    def on_record(_button) -> None:
        lines.clear()
        transcript.value = ""
        transcriber.on_utterance = show
        try:
            transcriber.start(source_factory())
        except Exception as e:  # shown in the widget; a button callback has no caller to raise to
            status.value = f"<span style='color:#c00'>{html.escape(str(e))}</span>"
            return
        record.disabled, stop.disabled, save.disabled = True, False, True
        status.value = "<span id='vtx-live-status'>recording…</span>"

    def on_stop(_button) -> None:
        try:
            session = transcriber.stop()
            status.value = f"stopped: {len(session.utterances)} utterances, {session.duration:.1f} s"
        except Exception as e:
            status.value = f"<span style='color:#c00'>{html.escape(str(e))}</span>"
        record.disabled, stop.disabled, save.disabled = False, True, workspace is None

    def on_save(_button) -> None:
        try:
            paths = transcriber.session.save(workspace)
            status.value = f"saved: {html.escape(str(paths.get('vtt')))}"
        except Exception as e:
            status.value = f"<span style='color:#c00'>{html.escape(str(e))}</span>"

    record.on_click(on_record)
    stop.on_click(on_stop)
    save.on_click(on_save)
    box = widgets.VBox([widgets.HBox([record, stop, save, status]), transcript])
    box.transcriber = transcriber
    box.session = lambda: transcriber.session
    box.buttons = {"record": record, "stop": stop, "save": save}
    box.transcript = transcript
    box.status = status
    return box
