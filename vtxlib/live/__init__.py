"""Live microphone transcription: audio chunks in, speaker-attributed utterances out.

The stream is cut into utterances by voice activity (Silero VAD, run frame by frame with its
state carried across chunks), not into fixed blocks: an utterance ends after ``min_silence_s`` of
trailing silence (or at ``max_utterance_s``), and is then transcribed by the already-loaded ASR
model with its absolute offset, so word times are stream times. Optionally each utterance's voice
embedding (CAM++, the embedded diarizer's speaker model) is matched to the speakers seen so far.

Capture is an interface (:class:`AudioSource`, chunks of float32 16 kHz mono):

* :class:`WavFileSource` replays a file, at real time or as fast as possible (tests, benchmarks);
* :class:`SoundDeviceSource` records from a local microphone (local Jupyter; needs PortAudio);
* :class:`ColabMicSource` receives PCM chunks sent by browser JavaScript in Google Colab.

:func:`live_widget` puts Record / Stop / Save buttons and a live transcript in a notebook.
"""

from ..colab_install import in_colab
from .capture import (
    COLAB_CALLBACK,
    COLAB_CAPTURE_JS,
    COLAB_STOP_JS,
    AudioSource,
    ColabMicSource,
    SoundDeviceSource,
    WavFileSource,
    colab_capture_js,
    decode_pcm_chunk,
    import_sounddevice,
    resample_to_16k,
)
from .segment import Cut, StreamingVad, UtteranceSegmenter
from .session import (
    CONTEXT_SAMPLES,
    FRAME_SAMPLES,
    SAMPLE_RATE,
    SPEAKER_PREFIX,
    LiveOptions,
    LiveSession,
    Utterance,
)
from .speakers import SpeakerTracker, embed_voice
from .transcriber import LiveTranscriber, create_live_transcriber
from .widget import default_source, live_widget

__all__ = [
    "SAMPLE_RATE",
    "FRAME_SAMPLES",
    "CONTEXT_SAMPLES",
    "SPEAKER_PREFIX",
    "LiveOptions",
    "Utterance",
    "LiveSession",
    "AudioSource",
    "WavFileSource",
    "SoundDeviceSource",
    "import_sounddevice",
    "COLAB_CALLBACK",
    "COLAB_CAPTURE_JS",
    "COLAB_STOP_JS",
    "colab_capture_js",
    "decode_pcm_chunk",
    "resample_to_16k",
    "ColabMicSource",
    "in_colab",
    "StreamingVad",
    "Cut",
    "UtteranceSegmenter",
    "embed_voice",
    "SpeakerTracker",
    "LiveTranscriber",
    "create_live_transcriber",
    "default_source",
    "live_widget",
]
