"""Live transcription without a microphone: a synthetic wav fed through the capture interface."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from needs import require

from vtxlib import live
from vtxlib.audio import load_audio, write_wav
from vtxlib.errors import BackendUnavailable, InputError
from vtxlib.live import (
    FRAME_SAMPLES,
    SAMPLE_RATE,
    ColabMicSource,
    LiveOptions,
    LiveSession,
    SpeakerTracker,
    Utterance,
    UtteranceSegmenter,
    WavFileSource,
    decode_pcm_chunk,
)
from vtxlib.types import Document

FIXTURES = Path(__file__).parent / ".fixtures" / "live"
LEAD_SILENCE_S = 0.5
GAP_S = 1.0
#: (espeak-ng voice, sentence): two voices, so speaker labels can be checked
SENTENCES = [
    ("en-us", "Good morning everyone, thank you for joining the meeting today."),
    ("en-us", "We will review the budget and the schedule for the next quarter."),
    ("en+f3", "I have prepared the numbers and they look better than last year."),
    ("en+f3", "Let us start with the marketing plan and then discuss hiring."),
]

pytestmark = pytest.mark.tools("espeak-ng", "ffmpeg")  # to synthesise speech


def synthesise(voice: str, text: str, target: Path) -> np.ndarray:
    raw = target.with_suffix(".22k.wav")
    subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "-w", str(raw), text], check=True)
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(raw), "-ac", "1",
                    "-ar", str(SAMPLE_RATE), str(target)], check=True)
    return load_audio(target)


@pytest.fixture(scope="module")
def stream() -> dict:
    """Four sentences with 1 s pauses; the file ends right after the last word (no trailing
    silence), so only stop/flush can emit the last utterance."""
    path = FIXTURES / "stream.wav"
    meta = FIXTURES / "stream.json"
    if not (path.exists() and meta.exists() and json.loads(meta.read_text())["sentences"] == SENTENCES):
        FIXTURES.mkdir(parents=True, exist_ok=True)
        parts, spans, at = [np.zeros(int(LEAD_SILENCE_S * SAMPLE_RATE), np.float32)], [], LEAD_SILENCE_S
        for i, (voice, text) in enumerate(SENTENCES):
            speech = synthesise(voice, text, FIXTURES / f"s{i}.wav")
            speech = np.trim_zeros(speech)
            spans.append((at, at + speech.size / SAMPLE_RATE))
            parts.append(speech)
            at += speech.size / SAMPLE_RATE
            if i + 1 < len(SENTENCES):
                parts.append(np.zeros(int(GAP_S * SAMPLE_RATE), np.float32))
                at += GAP_S
        write_wav(path, np.concatenate(parts))
        meta.write_text(json.dumps({"sentences": SENTENCES, "spans": spans}))
    return {"path": path, **json.loads(meta.read_text())}


class CountingLoads:
    def __init__(self, real):
        self.real, self.calls = real, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.real(*args, **kwargs)


@pytest.fixture(scope="module")
def transcriber():
    import torch

    torch.set_num_threads(1)
    from vtxlib.asr import whisper_cpu

    with pytest.MonkeyPatch.context() as mp:
        loads = CountingLoads(whisper_cpu.load_whisper_model)
        mp.setattr(whisper_cpu, "load_whisper_model", loads)
        t = live.create_live_transcriber(options=LiveOptions(speaker_labels=True))
        t.loads, t.loads_at_creation = loads, loads.calls
        yield t


@pytest.fixture(scope="module")
def fast_session(transcriber, stream) -> LiveSession:
    emitted = []
    transcriber.on_utterance = emitted.append
    session = transcriber.run(WavFileSource(stream["path"], realtime=False, chunk_ms=100))
    transcriber.on_utterance = None
    session.emitted = emitted
    return session


def wer(reference: str, hypothesis: str) -> float:
    import jiwer

    clean = lambda s: " ".join(re.sub(r"[^a-z' ]+", " ", s.lower()).split())  # noqa: E731
    return jiwer.wer(clean(reference), clean(hypothesis))


# -- end to end, faster than real time -----------------------------------------------------------

def test_one_utterance_per_sentence_with_low_wer(fast_session, stream):
    assert len(fast_session.utterances) == len(SENTENCES)
    for utterance, (_, text) in zip(fast_session.utterances, SENTENCES):
        assert wer(text, utterance.text) <= 0.25, (text, utterance.text)
    assert wer(" ".join(t for _, t in SENTENCES), fast_session.text) <= 0.15


def test_a_quick_hand_over_between_voices_is_two_labelled_utterances(transcriber, stream, tmp_path):
    """Two voices 0.3 s apart (below min_silence_s, so one cut): one utterance per voice, each with
    its own label, the words in time order across them."""
    first = np.trim_zeros(load_audio(FIXTURES / "s1.wav"))
    second = np.trim_zeros(load_audio(FIXTURES / "s2.wav"))
    clip = tmp_path / "hand-over.wav"
    write_wav(clip, np.concatenate([np.zeros(8000, np.float32), first, np.zeros(4800, np.float32), second,
                                    np.zeros(16000, np.float32)]))
    transcriber.speakers.reset()
    session = transcriber.run(WavFileSource(clip, realtime=False))
    transcriber.speakers.reset()
    change = 0.5 + first.size / SAMPLE_RATE + 0.15
    assert len(session.utterances) == 2, [(u.start, u.end, u.speaker, u.text) for u in session.utterances]
    one, two = session.utterances
    assert one.speaker != two.speaker
    assert abs(one.end - change) < 0.3 and abs(two.start - change) < 0.3
    assert wer(SENTENCES[1][1], one.text) <= 0.25 and wer(SENTENCES[2][1], two.text) <= 0.25


def test_word_times_are_absolute_stream_times(fast_session, stream):
    for utterance, (start, end) in zip(fast_session.utterances, stream["spans"]):
        assert utterance.words[0].start == pytest.approx(start, abs=0.5)
        assert utterance.words[-1].end == pytest.approx(end, abs=0.5)
        assert all(utterance.start <= w.start <= w.end <= utterance.end + 0.05 for w in utterance.words)


def test_stop_flushes_the_last_utterance_without_trailing_silence(fast_session, stream):
    last = fast_session.utterances[-1]
    # less silence than min_silence_s followed it: only the end of the stream can have cut it
    assert last.endpoint_delay_s < 0.45
    assert wer(SENTENCES[-1][1], last.text) <= 0.25
    assert stream["spans"][-1][1] == pytest.approx(fast_session.duration, abs=0.01)
    assert last.end >= fast_session.duration - 0.5


def test_the_last_utterance_reaches_the_asr_when_the_padded_frame_ends_it():
    """This clip ends 0.48 s after its last word: the frame that flush pads out completes the 0.5 s of
    silence and closes the utterance there. That cut was dropped, so 8-20 s of the clip was never
    transcribed (one utterance of 7 s out of 21 s)."""
    from vtxlib.live.segment import StreamingVad
    from vtxlib.testing.multilingual import make_clip
    from vtxlib.types import Transcript

    class Heard:
        def __init__(self):
            self.spans = []

        def transcribe_array(self, samples, duration, offset=0.0):
            self.spans.append((offset, offset + duration))
            return Transcript(segments=[], language="pl")

    clip = make_clip(Path(__file__).parent / ".fixtures" / "multilingual", "pl", "dev", 0, 20.0)
    asr = Heard()
    live.LiveTranscriber(asr, vad=StreamingVad()).run(WavFileSource(clip.wav, realtime=False))
    assert len(asr.spans) == 2 and asr.spans[-1][1] > clip.duration - 1.0, (asr.spans, clip.duration)


def test_latency_is_recorded_per_utterance(fast_session):
    emitted = fast_session.emitted
    assert [u.index for u in emitted] == [0, 1, 2, 3]  # the callback saw every utterance, in order
    for u in fast_session.utterances[:-1]:
        assert not u.measured_realtime
        # an utterance is cut after ~0.5 s of silence (min_silence_s, frame granularity 32 ms)
        assert 0.45 <= u.endpoint_delay_s <= 0.6
        assert u.processing_s > 0
        assert u.latency_s == pytest.approx(u.endpoint_delay_s + u.processing_s, abs=0.002)


def test_speakers_follow_the_two_voices(fast_session):
    labels = [u.speaker for u in fast_session.utterances]
    assert labels[0] == labels[1]
    assert labels[2] == labels[3]
    assert labels[0] != labels[2]
    assert all(w.speaker == u.speaker for u in fast_session.utterances for w in u.words)


def test_session_converts_saves_and_exports_vtt(fast_session, tmp_path):
    from vtxlib.workspace import Workspace

    aligned = fast_session.to_aligned()
    assert aligned.speakers == ["SPEAKER_00", "SPEAKER_01"]
    assert len(aligned.turns) == 4
    paths = fast_session.save(Workspace(tmp_path / "ws"), media_id="live-test")
    vtt = paths["vtt"].read_text()
    assert vtt.startswith("WEBVTT")
    assert "<v SPEAKER_01>" in vtt and "marketing" in vtt.lower()
    document = Document.load(paths["json"])
    assert document.media.id == "live-test"
    assert len(document.transcript.words) == len(aligned.words)
    assert load_audio(paths["audio"]).size == pytest.approx(fast_session.duration * SAMPLE_RATE, abs=2)
    saved = json.loads(paths["utterances"].read_text())["utterances"]
    assert [Utterance.model_validate(u).text for u in saved] == [u.text for u in fast_session.utterances]


# -- real time, background thread, stop in the middle of an utterance ---------------------------

def test_realtime_start_stop_mid_utterance_and_model_loaded_once(transcriber, stream, fast_session):
    second_start, second_end = stream["spans"][1]
    stop_at = (second_start + second_end) / 2  # in the middle of the second sentence
    emitted = []
    transcriber.on_utterance = emitted.append
    loads_before = transcriber.loads.calls  # other tests of this module may load models of their own
    source = WavFileSource(stream["path"], realtime=True, chunk_ms=100)
    started = time.perf_counter()
    transcriber.start(source)
    assert transcriber.running
    time.sleep(stop_at)
    session = transcriber.stop()
    stopped = time.perf_counter() - started
    transcriber.on_utterance = None
    assert not transcriber.running
    assert stopped < stop_at + 10  # stop returned promptly (flush = one ASR call)
    details = [(u.start, u.end, u.text, u.latency_s, u.processing_s) for u in session.utterances]
    assert len(session.utterances) == 2, details  # the first, and the second flushed half-way
    assert wer(SENTENCES[0][1], session.utterances[0].text) <= 0.25
    partial = session.utterances[1]
    assert 1 <= len(partial.words) < len(SENTENCES[1][1].split()), details
    assert partial.end <= stop_at + 0.5, details
    first = session.utterances[0]
    assert first.measured_realtime
    # wall-clock latency: at least the silence the cut waited for, at most that plus a slow ASR call
    assert first.endpoint_delay_s <= first.latency_s <= first.endpoint_delay_s + first.processing_s + 1.0, details
    # loaded once, at creation: tiny.en and the language check's base
    assert transcriber.loads_at_creation == 2 and transcriber.loads.calls == loads_before


def test_start_twice_is_refused(transcriber, stream):
    source = WavFileSource(stream["path"], realtime=True)
    transcriber.start(source)
    try:
        with pytest.raises(InputError, match="already recording"):
            transcriber.start(WavFileSource(stream["path"], realtime=True))
    finally:
        transcriber.stop()


def test_live_command_replays_a_wav_and_saves(stream, tmp_path, monkeypatch, capsys):
    from vtxlib import cli

    clip = tmp_path / "first.wav"
    write_wav(clip, load_audio(stream["path"], 0.0, stream["spans"][0][1] + 0.7))
    code = cli.main(["live", "--wav", str(clip), "--fast", "--save", "--workspace", str(tmp_path / "ws")])
    out = capsys.readouterr().out
    assert code == 0
    assert "1 utterances" in out and "morning" in out.lower()
    assert re.search(r"latency p50 [\d.]+ s, p90 [\d.]+ s, max [\d.]+ s", out)
    saved = Path(out.strip().splitlines()[-1].removeprefix("saved: "))
    assert saved.name == "transcript.vtt" and "morning" in saved.read_text().lower()


def test_live_command_decodes_any_format_ffmpeg_reads(stream, tmp_path, monkeypatch, capsys):
    from vtxlib import cli

    clip, mp3 = tmp_path / "first.wav", tmp_path / "first.mp3"
    write_wav(clip, load_audio(stream["path"], 0.0, stream["spans"][0][1] + 0.7))
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(clip), "-ar", "44100", "-ac", "2", str(mp3)],
                   check=True)
    assert cli.main(["live", "--wav", str(mp3), "--fast"]) == 0
    out = capsys.readouterr().out
    assert "1 utterances" in out and "morning" in out.lower()


def live_command(*args: str, pythonpath=None) -> subprocess.CompletedProcess:
    import os
    import sys

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    if pythonpath is not None:  # modules there shadow the installed ones
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(pythonpath), env.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-m", "vtxlib", "live", *args], capture_output=True, text=True,
                          timeout=120, env=env)


@pytest.mark.parametrize("name", ["missing.mp3", "notes.txt"])
def test_live_command_on_a_missing_or_unreadable_file_is_one_line(tmp_path, name):
    if name == "notes.txt":
        (tmp_path / name).write_text("not audio")
    proc = live_command("--wav", str(tmp_path / name))
    assert proc.returncode == 1 and proc.stderr.startswith("error: "), proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_live_command_without_portaudio_is_one_line(tmp_path):
    # sounddevice as it behaves when its wheel is there but the PortAudio library is not, whatever
    # this machine has (with PortAudio the microphone would open)
    (tmp_path / "sounddevice.py").write_text('raise OSError("PortAudio library not found")\n')
    proc = live_command(pythonpath=tmp_path)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("error: ") and len(proc.stderr.strip().splitlines()) <= 2


# -- pieces, without models ------------------------------------------------------------------------

def frames(*runs: tuple[float, float]) -> np.ndarray:
    """Per-frame probabilities from (probability, seconds) runs."""
    return np.concatenate([np.full(int(round(s * SAMPLE_RATE / FRAME_SAMPLES)), p) for p, s in runs])


def test_segmenter_cuts_after_trailing_silence_only():
    seg = UtteranceSegmenter(LiveOptions(min_silence_s=0.5))
    # a 0.3 s pause inside speech does not cut; 0.6 s of silence does
    closed = seg.push(frames((0.0, 1.0), (0.9, 1.0), (0.1, 0.3), (0.9, 1.0), (0.1, 0.6)))
    assert len(closed) == 1
    cut = closed[0]
    assert cut.start / SAMPLE_RATE == pytest.approx(1.0, abs=0.04)
    assert cut.end / SAMPLE_RATE == pytest.approx(3.3, abs=0.04)
    assert (cut.decided_at - cut.end) / SAMPLE_RATE == pytest.approx(0.5, abs=0.04)
    assert not (cut.split_start or cut.split_end)
    assert seg.flush() == []


def test_segmenter_hysteresis_keeps_borderline_frames_in_speech():
    seg = UtteranceSegmenter(LiveOptions(vad_threshold=0.5, min_silence_s=0.5))
    # 0.4 is below the start threshold but above threshold - 0.15: it continues speech
    assert seg.push(frames((0.9, 0.5), (0.4, 1.0))) == []
    assert seg.speech_start == 0


def test_segmenter_splits_long_speech_at_its_weakest_frame_and_flushes_the_rest():
    seg = UtteranceSegmenter(LiveOptions(max_utterance_s=4.0))
    # 3 s of speech, a 0.2 s dip (a pause between words, too short to end the utterance), 3 s more
    closed = seg.push(frames((0.9, 3.0), (0.3, 0.2), (0.9, 3.0)))
    assert len(closed) == 1
    first = closed[0]
    assert first.split_end and not first.split_start
    assert 3.0 <= first.end / SAMPLE_RATE <= 3.2  # inside the dip, not at the 4 s limit
    tail = seg.flush()
    assert len(tail) == 1 and tail[0].split_start and tail[0].start == first.end
    assert tail[0].end / SAMPLE_RATE == pytest.approx(6.2, abs=0.04)


def test_segmenter_splits_uniform_speech_at_the_limit():
    seg = UtteranceSegmenter(LiveOptions(max_utterance_s=2.0))
    closed = seg.push(frames((0.9, 5.0)))
    assert [round((c.end - c.start) / SAMPLE_RATE, 1) for c in closed] == [2.0, 2.0]
    assert [c.start for c in closed[1:]] == [c.end for c in closed[:-1]]  # contiguous, no overlap


def test_segmenter_drops_short_bursts():
    seg = UtteranceSegmenter(LiveOptions(min_speech_s=0.25))
    assert seg.push(frames((0.9, 0.1), (0.0, 1.0))) == []


def test_streaming_vad_matches_whole_file_probabilities(stream):
    from vtxlib.vad import load_vad_model

    wav = load_audio(stream["path"])[: 6 * SAMPLE_RATE]
    whole = load_vad_model()(np.pad(wav, (0, -wav.size % FRAME_SAMPLES))).reshape(-1)  # the library's own framing
    vad = live.StreamingVad()
    pieces = [vad.process(wav[i:i + 1234]) for i in range(0, wav.size, 1234)]  # chunk ≠ frame size
    streamed = np.concatenate(pieces)
    n = wav.size // FRAME_SAMPLES
    np.testing.assert_allclose(streamed[:n], whole[:n], atol=1e-4)


def test_speaker_tracker_threshold_and_placeholder():
    vectors = {"a": np.array([1.0, 0.0, 0.0]), "b": np.array([0.0, 1.0, 0.0]),
               "a2": np.array([0.9, 0.1, 0.0])}
    tracker = SpeakerTracker(threshold=0.75, min_embed_s=1.0, embed=lambda s: vectors[s.key])

    class Clip(np.ndarray):
        pass

    def clip(key: str, seconds: float):
        c = np.zeros(int(seconds * SAMPLE_RATE), np.float32).view(Clip)
        c.key = key
        return c

    assert tracker.assign(clip("a", 0.5)) == "SPEAKER_00"  # too short to embed: a placeholder
    assert tracker.assign(clip("a", 2.0)) == "SPEAKER_00"  # gives the placeholder its voice
    assert tracker.assign(clip("b", 2.0)) == "SPEAKER_01"
    assert tracker.assign(clip("a2", 2.0)) == "SPEAKER_00"
    assert tracker.assign(clip("x", 0.3)) == "SPEAKER_00"  # short: joins the last speaker


def test_wav_source_realtime_pacing_and_stop(tmp_path):
    path = tmp_path / "tone.wav"
    write_wav(path, np.full(SAMPLE_RATE, 0.1, np.float32))  # 1 s
    source = WavFileSource(path, realtime=True, chunk_ms=100)
    started = time.perf_counter()
    chunks = []
    for chunk in source:
        chunks.append(chunk)
        if len(chunks) == 5:
            source.stop()
    assert len(chunks) == 5
    assert time.perf_counter() - started == pytest.approx(0.5, abs=0.25)
    fast = list(WavFileSource(path, realtime=False, chunk_ms=100))
    assert sum(c.size for c in fast) == SAMPLE_RATE and len(fast) == 10


def test_wav_source_decodes_other_sample_rates_and_channels(tmp_path):
    import wave

    path = tmp_path / "8k-stereo.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2), w.setsampwidth(2), w.setframerate(8000), w.writeframes(b"\0\0\0\0" * 8000)
    source = WavFileSource(path)
    assert source.samples.dtype == np.float32 and abs(source.samples.size - SAMPLE_RATE) < 200  # 1 s at 16 kHz


def test_decode_pcm_chunk_from_browser():
    pcm = (np.sin(np.linspace(0, 2 * np.pi * 440, 48000)) * 16000).astype("<i2")
    payload = base64.b64encode(pcm.tobytes()).decode()
    out = decode_pcm_chunk(payload, 48000)
    assert out.dtype == np.float32 and out.size == SAMPLE_RATE
    assert np.abs(out).max() == pytest.approx(16000 / 32768, rel=0.05)
    same_rate = decode_pcm_chunk(base64.b64encode(pcm[:1600].tobytes()).decode(), SAMPLE_RATE)
    np.testing.assert_allclose(same_rate, pcm[:1600] / 32768.0, atol=1e-6)
    with pytest.raises(InputError, match="base64"):
        decode_pcm_chunk("not base64!!", 16000)
    with pytest.raises(InputError, match="16-bit"):
        decode_pcm_chunk(base64.b64encode(b"\0\0\0").decode(), 16000)


def test_colab_source_queues_received_chunks_in_order():
    source = ColabMicSource(chunk_ms=100)
    chunks = [np.full(1600, v, np.float32) for v in (0.1, 0.2, 0.3)]
    for seq, c in enumerate(chunks):
        source.receive(base64.b64encode((c * 32767).astype("<i2").tobytes()).decode(), SAMPLE_RATE, seq)
    source.stop()
    source._start_capture = lambda: None  # the browser side exists only in Colab
    received = list(source)
    assert [round(float(c[0]), 2) for c in received] == [0.1, 0.2, 0.3]
    assert source.started_at is not None


def test_colab_source_outside_colab_says_so():
    with pytest.raises(BackendUnavailable, match="Colab"):
        ColabMicSource()._start_capture()
    script = live.colab_capture_js(0.25)
    assert "getUserMedia" in script and f'"{live.COLAB_CALLBACK}"' in script and "= 0.250000;" in script


def test_sounddevice_missing_is_an_actionable_error(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "sounddevice":
            raise OSError("PortAudio library not found")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(BackendUnavailable, match="libportaudio2"):
        live.import_sounddevice()


def test_transcriber_refuses_backends_without_array_input():
    class FileOnly:
        name = "file-only"

    with pytest.raises(BackendUnavailable, match="transcribe_array"):
        live.LiveTranscriber(FileOnly())


# -- the notebook widget, driven by button clicks -------------------------------------------------

def test_widget_record_stop_save(transcriber, stream, tmp_path):
    require("ipywidgets", extra="notebooks")
    from vtxlib.workspace import Workspace

    clip = tmp_path / "two-speakers.wav"  # the second and third sentences: one per voice
    write_wav(clip, load_audio(stream["path"], stream["spans"][1][0] - 0.3, stream["spans"][2][1] + 0.3))
    box = live.live_widget(transcriber, workspace=Workspace(tmp_path / "ws"),
                           source_factory=lambda: WavFileSource(clip, realtime=False))
    buttons = box.buttons
    buttons["record"].click()
    assert buttons["record"].disabled and not buttons["stop"].disabled
    deadline = time.time() + 60
    while transcriber.running and time.time() < deadline:
        time.sleep(0.1)
    buttons["stop"].click()
    assert not buttons["record"].disabled and not buttons["save"].disabled
    assert "stopped: 2 utterances" in box.status.value
    assert "budget" in box.transcript.value.lower() and "numbers" in box.transcript.value.lower()
    assert "SPEAKER_00" in box.transcript.value and "SPEAKER_01" in box.transcript.value
    buttons["save"].click()
    assert "transcript.vtt" in box.status.value


def test_widget_shows_the_language_checks_line(transcriber, stream, tmp_path):
    """Log lines from the recording thread do not reach a notebook cell: the widget shows the check's line."""
    require("ipywidgets", extra="notebooks")
    box = live.live_widget(transcriber, source_factory=lambda: WavFileSource(stream["path"], realtime=False))
    box.buttons["record"].click()
    deadline = time.time() + 60
    while transcriber.running and time.time() < deadline:
        time.sleep(0.1)
    box.buttons["stop"].click()
    note = box.session().language_note
    assert note and note.startswith("language en detected (p="), note
    assert box.transcript.value.count("vtx-live-language") == 1 and note in box.transcript.value


def test_phrases_are_long_enough_to_embed():
    from vtxlib.live.transcriber import _phrases
    from vtxlib.types import Word

    def words(*spans):
        return [Word(f"w{k}", a, b, 0.9) for k, (a, b) in enumerate(spans)]

    groups = _phrases(words((0.0, 0.6), (0.65, 1.2), (1.5, 2.1), (2.1, 2.8), (3.0, 3.3)), 0.2, 1.0)
    assert [[w.text for w in g] for g in groups] == [["w0", "w1"], ["w2", "w3", "w4"]]  # the short tail joins
    assert [[w.text for w in g] for g in _phrases(words((0.0, 0.3), (1.6, 1.9)), 0.2, 1.0)] == [["w0", "w1"]]
    assert _phrases([], 0.2, 1.0) == []


# -- languages -------------------------------------------------------------------------------------

def test_live_command_transcribes_the_language_it_is_told(tmp_path, capsys):
    from vtxlib import cli
    from vtxlib.metrics import error_rate
    from vtxlib.testing.multilingual import make_clip

    clip = make_clip(Path(__file__).parent / ".fixtures" / "multilingual", "es", "test", 0, 10.0)
    assert cli.main(["live", "--wav", str(clip.wav), "--fast", "--language", "es"]) == 0
    out = capsys.readouterr().out
    heard = " ".join(line.split("] ", 1)[1].rsplit("   (", 1)[0] for line in out.splitlines() if line.startswith("["))
    # base in Spanish; tiny.en (the default before --language) turned this clip into English words
    assert error_rate(clip.text, heard) < 0.6, heard


@pytest.mark.parametrize("args, expected", [
    (["--language", "xx"], "expected auto or one of Whisper's language codes"),
    (["--language", "es", "--asr-model", "tiny.en"], "is English only, and --language es was asked"),
])
def test_live_command_refuses_a_language_it_cannot_transcribe_in_one_line(stream, args, expected):
    proc = live_command("--wav", stream["path"], "--fast", *args)
    assert proc.returncode == 1 and proc.stderr.startswith("error: "), proc.stderr
    assert expected in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_live_command_without_a_language_switches_to_the_one_it_hears(tmp_path):
    """No --language: English at first, and the first ~10 s of speech are identified. Japanese came out
    as English words (tiny.en) for the whole session before; now the warning names ja and the text is
    written in Japanese."""
    from vtxlib.testing.multilingual import make_clip

    clip = make_clip(Path(__file__).parent / ".fixtures" / "multilingual", "ja", "test", 0, 20.0)
    proc = live_command("--wav", str(clip.wav), "--fast")
    assert proc.returncode == 0, proc.stderr
    assert "the speech is ja (p=" in proc.stderr and "not en: transcribing it in ja" in proc.stderr, proc.stderr
    heard = "".join(line.split("] ", 1)[1].rsplit("   (", 1)[0] for line in proc.stdout.splitlines()
                    if line.startswith("["))
    japanese = sum("\u3040" <= ch <= "\u30ff" or "\u4e00" <= ch <= "\u9fff" for ch in heard)
    assert heard and japanese / len(heard.replace(" ", "")) > 0.8, heard


def test_the_language_check_keeps_english_speech_english(fast_session):
    assert fast_session.language == "en"
    assert fast_session.language_detection is not None and fast_session.language_detection.language == "en"
    assert fast_session.to_document().language_source == "detected"


class NotTranscribing:
    def transcribe_array(self, *args, **kwargs):
        raise AssertionError("the language check runs before any transcription here")


class HearsGerman:
    """A detector that hears German for sure (no decoding needed at p >= 0.9)."""

    def __call__(self, samples):
        return [("de", 0.95), ("en", 0.03)]

    def decode(self, samples, languages):
        raise AssertionError("a sure identification is not rescored")

    @property
    def model(self):
        return self


@pytest.mark.parametrize("switch", [True, False])
def test_the_language_check_switches_from_the_next_utterance_or_only_says_so(switch, caplog):
    """Once the first seconds are surely German, the rest is transcribed in German and the line says how
    many utterances came before; with a model the user named (no switch), the line says to restart."""
    from vtxlib.live.language_check import LanguageCheck

    english, german = NotTranscribing(), NotTranscribing()
    transcriber = live.LiveTranscriber(english, language="en", language_check=LanguageCheck(HearsGerman(), after_s=2.0),
                                       switch_asr=(lambda language: german) if switch else None)
    transcriber.session.utterances = [Utterance(index=i, start=i, end=i + 1, words=[]) for i in range(2)]
    caplog.set_level("INFO", logger="vtxlib.live")
    one_second = np.zeros(SAMPLE_RATE, np.float32)
    transcriber._check_language(one_second)
    assert not caplog.records and transcriber.asr is english  # under 2 s of speech: not yet
    transcriber._check_language(one_second)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "the speech is de (p=0.95), not en" in warnings[0]
    assert transcriber.session.language_note == warnings[0]  # what the notebook widget shows
    if switch:
        assert transcriber.asr is german and transcriber.language == transcriber.session.language == "de"
        assert "from here on; the 2 utterance(s) before were transcribed as en" in warnings[0]
    else:
        assert transcriber.asr is english and transcriber.language == "en"
        assert "restart with --language de" in warnings[0]
    transcriber._check_language(one_second)  # decided once
    assert len([r for r in caplog.records if r.levelname == "WARNING"]) == 1


class UnsureOfRussian(HearsGerman):
    def __call__(self, samples):
        return [("ru", 0.34), ("pl", 0.30), ("en", 0.2)]

    def decode(self, samples, languages):
        from vtxlib.language import Decoded

        return {lang: Decoded(-1.0, 20, 1.5) for lang in languages}


def test_an_unsure_language_check_keeps_english_and_says_what_it_may_be(caplog):
    from vtxlib.live.language_check import LanguageCheck

    transcriber = live.LiveTranscriber(NotTranscribing(), language="en",
                                       language_check=LanguageCheck(UnsureOfRussian(), after_s=2.0),
                                       switch_asr=lambda language: pytest.fail("an unsure check does not switch"))
    caplog.set_level("INFO", logger="vtxlib.live")
    transcriber._check_language(np.zeros(2 * SAMPLE_RATE, np.float32))
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert transcriber.language == "en" and transcriber.session.language_detection.low_confidence
    assert warnings == ["the first 2 s of speech may be ru, but not surely (p=0.34): still transcribed as en; "
                        "name the language with --language xx"], warnings
