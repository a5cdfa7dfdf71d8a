"""The stage graph: registration order, ``until`` selection, a stage added by one registration line,
the stage cache (hits, misses, keys as before), ``backends.json`` as a model, the capability
protocols, and a stage running beside another on its own thread."""

import json
import threading

import pytest
from fakes import tone_wav

from vtxlib import capabilities
from vtxlib.errors import InputError
from vtxlib.options import STAGES
from vtxlib.pipeline import Pipeline, PipelineOptions
from vtxlib.stages import RunContext, RunState, Stage, StageCache, StageGraph
from vtxlib.stages.backends import BackendRegistry
from vtxlib.stages.cache import BACKENDS_RECORD, BackendsRecord
from vtxlib.stages.graph import GRAPH
from vtxlib.types import (
    Diarization,
    MediaInfo,
    Segment,
    SpeakerTurn,
    Transcript,
    VtxModel,
    Word,
)
from vtxlib.vad import SpeechRegions
from vtxlib.workspace import Workspace, stage_key


class FixedAsr:
    name = "fixed-asr"

    def options_dict(self):
        return {}

    def transcribe(self, audio, progress=None):
        words = [Word("one", 0.2, 0.5, 0.9), Word("two", 0.6, 0.9, 0.9), Word("three", 1.3, 1.6, 0.9)]
        return Transcript([Segment("one two three", 0.2, 1.6, words)], language="en", backend=self.name)


class OneSpeaker:
    name = "one-speaker"

    def options_dict(self):
        return {}

    def diarize(self, audio, count, progress=None):
        return Diarization([SpeakerTurn("SPEAKER_00", 0.1, 2.0)], backend=self.name)


class WordCount(VtxModel):
    words: int


class WordCountStage(Stage):
    """A stage made for this test: the number of aligned words, through the cache."""

    name = "wordcount"
    inputs = ("align",)
    output = WordCount

    def __init__(self):
        self.computed = 0

    def compute(self, ctx, state):
        aligned = state.get("align")

        def count():
            self.computed += 1
            return WordCount(words=len(aligned.words))

        state.put(self.name, *ctx.cached(state.media.id, self.name, "test", {}, [state.refs["align"].digest],
                                         count, self.load))


def _context(ws: Workspace, **options) -> RunContext:
    return RunContext(options=PipelineOptions(**options), hook=lambda *a, **k: None, workspace=ws,
                      cache=StageCache(ws), backends=BackendRegistry(ws))


# -- the graph ------------------------------------------------------------------------------
def test_the_graph_is_registered_in_dependency_order_and_names_every_stage():
    assert GRAPH.names == STAGES
    seen = {"acquire"}
    for stage in GRAPH:
        assert set(stage.inputs) <= seen, stage
        seen.add(stage.name)
    assert GRAPH["translate"].within == "subtitles" and GRAPH["diarize"].beside == "asr"


def test_a_stage_registered_before_a_stage_it_reads_is_refused():
    with pytest.raises(ValueError, match="wordcount is registered before"):
        StageGraph([WordCountStage(), *GRAPH])
    with pytest.raises(ValueError, match="share a name"):
        StageGraph([*GRAPH, GRAPH["upload"]])


def test_until_selects_the_stages_up_to_it_and_those_within_them():
    assert [s.name for s in GRAPH.select("asr")] == ["audio", "speech", "language", "asr"]
    assert GRAPH.select("acquire") == []
    up_to_subtitles = [s.name for s in GRAPH.select("subtitles")]
    assert up_to_subtitles[-2:] == ["subtitles", "translate"]  # translation is written with the subtitles
    assert [s.name for s in GRAPH.select("translate")] == up_to_subtitles
    assert [s.name for s in GRAPH.select("upload")] == list(STAGES[1:])
    with pytest.raises(InputError, match="until='nope'"):
        GRAPH.select("nope")


def test_a_run_stops_at_until(tmp_path):
    ws = Workspace(tmp_path / "ws")
    pipeline = Pipeline(ws, PipelineOptions(emotion="off", report=False, language="en"),
                        backends={"asr": FixedAsr(), "diarize": OneSpeaker()})
    result = pipeline.run(str(tone_wav(tmp_path / "a.wav")), until="asr")
    assert result.transcript is not None and result.diarization is None and result.document is None
    assert set(result.results) == {"audio", "language", "asr"}  # no stage takes the speech regions
    assert not (ws.media_dir(result.media.id) / "align").exists()


def test_a_stage_added_by_one_registration_line_runs_and_is_cached(tmp_path):
    words = WordCountStage()
    stages = list(GRAPH)
    graph = StageGraph(stages[:stages.index(GRAPH["align"]) + 1] + [words] + stages[stages.index(GRAPH["align"]) + 1:])
    ws = Workspace(tmp_path / "ws")
    pipeline = Pipeline(ws, PipelineOptions(emotion="off", report=False, language="en"),
                        backends={"asr": FixedAsr(), "diarize": OneSpeaker()}, graph=graph)
    source = str(tone_wav(tmp_path / "talk.wav"))
    first = pipeline.run(source, until="wordcount")
    assert first.results["wordcount"] == WordCount(words=3) and words.computed == 1
    assert first.document.stages["wordcount"].cached is False
    assert list(first.document.stages)[-2:] == ["align", "wordcount"]  # in graph order
    second = pipeline.run(source, until="wordcount")
    assert words.computed == 1 and second.document.stages["wordcount"].cached is True
    assert second.refs["wordcount"] == first.refs["wordcount"]
    assert ws.artifact_path(first.media.id, "wordcount", first.refs["wordcount"].key).exists()
    # a full run goes through it too, and on to the subtitles
    full = pipeline.run(source, out_dir=tmp_path / "out")
    assert full.results["wordcount"].words == 3 and (tmp_path / "out" / full.media.id / "transcript.vtt").exists()


# -- the cache ------------------------------------------------------------------------------
def test_the_stage_cache_misses_then_hits_with_the_same_keys_as_before(tmp_path):
    ws = Workspace(tmp_path / "ws")
    ctx = _context(ws)
    calls = []

    def compute():
        calls.append(1)
        return SpeechRegions(regions=[(0.5, 1.5)], duration=2.0)

    args = ("media1", "speech", "silero", {"threshold": 0.5}, ["digest-a"])
    result, ref = ctx.cached(*args, compute, SpeechRegions.model_validate)
    assert len(calls) == 1 and ctx.records["speech"].cached is False
    assert ref.key == stage_key("speech", "silero", {"threshold": 0.5}, ["digest-a"],
                                ctx.cache.versions("speech", "silero", []))
    assert ws.artifact_path("media1", "speech", ref.key).exists()

    again = _context(ws)
    loaded, same = again.cached(*args, compute, SpeechRegions.model_validate)
    assert len(calls) == 1 and loaded == result and same == ref and again.records["speech"].cached is True

    other = _context(ws)
    _, changed = other.cached("media1", "speech", "silero", {"threshold": 0.6}, ["digest-a"], compute,
                              SpeechRegions.model_validate)
    assert len(calls) == 2 and changed.key != ref.key

    forced = _context(ws, force="speech")
    forced.cached(*args, compute, SpeechRegions.model_validate)
    assert len(calls) == 3 and forced.records["speech"].cached is False


def test_an_unfinished_result_is_returned_but_not_cached(tmp_path):
    ws = Workspace(tmp_path / "ws")
    ctx = _context(ws)
    result, ref = ctx.cached("m", "speech", "x", {}, [], lambda: SpeechRegions(duration=1.0),
                             SpeechRegions.model_validate, unfinished=lambda r: "two requests got no answer")
    assert result.duration == 1.0 and ctx.records["speech"].incomplete == "two requests got no answer"
    assert not ws.artifact_path("m", "speech", ref.key).exists()


def test_backends_json_is_read_as_a_model_and_written_as_before(tmp_path):
    ws = Workspace(tmp_path / "ws")
    path = ws.media_dir("m") / BACKENDS_RECORD
    path.parent.mkdir(parents=True, exist_ok=True)
    entry = {"backend": "nemo", "key": "k1", "inputs": ["d"], "request": {"model": None, "language": "auto"}}
    path.write_text(json.dumps({"asr": entry, "diarize": "not an entry"}))
    record = BackendsRecord.read(path)
    assert record.stages["asr"].backend == "nemo" and "diarize" not in record.stages
    assert record.as_json() == {"asr": entry}
    assert BackendsRecord.read(tmp_path / "missing.json").stages == {}

    # a run records its backends in the same shape
    pipeline = Pipeline(ws, PipelineOptions(emotion="off", report=False, language="en"),
                        backends={"asr": FixedAsr(), "diarize": OneSpeaker()})
    result = pipeline.run(str(tone_wav(tmp_path / "b.wav")), until="align")
    written = json.loads((ws.media_dir(result.media.id) / BACKENDS_RECORD).read_text())
    assert written["asr"] == {"backend": "fixed-asr", "key": result.refs["asr"].key,
                              "inputs": [result.refs["audio"].digest], "request": {"model": None, "language": "en"}}
    assert written == pipeline.recorded_backends(result.media.id)


# -- capabilities ---------------------------------------------------------------------------
class DetectsSpeech:
    name = "detects"
    speech_backend = "test-segmentation"

    def speech_options(self):
        return {"onset": 0.5}

    def detect_speech(self, audio, progress=None):
        return SpeechRegions(regions=[(0.1, 0.9)], duration=audio.duration, backend=self.speech_backend)


def test_capabilities_are_protocols_that_read_what_a_backend_declares():
    from vtxlib.asr.whisper_cpu import WhisperCpuAsr, WhisperCpuOptions

    whisper = WhisperCpuAsr(WhisperCpuOptions())
    assert capabilities.takes_language(whisper) and capabilities.takes_speech(whisper)
    assert isinstance(whisper, capabilities.ChecksAvailability)
    assert capabilities.model_languages(whisper) == ("en",)
    assert not isinstance(whisper, capabilities.SpeechDetector)

    class Declines:
        takes_speech = False

    assert isinstance(Declines(), capabilities.TakesSpeech) and not capabilities.takes_speech(Declines())
    assert not capabilities.takes_speech(FixedAsr()) and not capabilities.takes_transcript(OneSpeaker())
    assert isinstance(DetectsSpeech(), capabilities.SpeechDetector)
    assert capabilities.model_label(FixedAsr()) == "fixed-asr"


def test_the_speech_stage_uses_a_diarizer_that_detects_speech(tmp_path):
    ws = Workspace(tmp_path / "ws")
    pipeline = Pipeline(ws, PipelineOptions())
    media = pipeline.acquire(str(tone_wav(tmp_path / "c.wav")))
    audio, audio_ref = pipeline.audio(media)
    regions, _ = pipeline.speech(media, audio, audio_ref, DetectsSpeech())
    assert regions.regions == [(0.1, 0.9)] and regions.backend == "test-segmentation"


def test_voices_need_a_diarizer_that_embeds_voices(tmp_path):
    pipeline = Pipeline(Workspace(tmp_path / "ws"), PipelineOptions(voices=str(tmp_path)),
                        backends={"asr": FixedAsr(), "diarize": OneSpeaker()})
    with pytest.raises(InputError, match="--voices needs speaker embeddings"):
        pipeline.run(str(tone_wav(tmp_path / "d.wav")))


# -- a stage beside another -----------------------------------------------------------------
class Mark(Stage):
    def __init__(self, name, inputs=(), beside=None, fail=False, gate=None):
        self.name, self.inputs, self.beside, self.fail, self.gate = name, inputs, beside, fail, gate

    def may_run_beside(self, ctx, state):
        return True

    def compute(self, ctx, state):
        if self.gate is not None:
            self.gate.wait(timeout=10)
        state.put(self.name, threading.current_thread().name)
        if self.fail:
            raise RuntimeError(f"{self.name} failed")


def test_a_stage_runs_beside_its_partner_on_a_second_thread(tmp_path):
    ctx, state = _context(Workspace(tmp_path / "ws")), RunState(media=MediaInfo(id="m", title="t", source="s"))
    both = threading.Barrier(2, timeout=10)  # each waits for the other: they must run at the same time
    graph = StageGraph([Mark("first"), Mark("partner", ("first",), gate=both),
                        Mark("side", ("first",), beside="partner", gate=both), Mark("last", ("partner", "side"))])
    graph.run(ctx, state, "last")
    assert ctx.parallel == ("partner", "side")
    assert state.get("side") != state.get("partner") == state.get("first") == state.get("last")


def test_a_failure_beside_waits_for_the_partner_and_is_raised(tmp_path):
    ctx, state = _context(Workspace(tmp_path / "ws")), RunState(media=MediaInfo(id="m", title="t", source="s"))
    graph = StageGraph([Mark("first"), Mark("partner", ("first",)),
                        Mark("side", ("first",), beside="partner", fail=True), Mark("last", ("partner", "side"))])
    with pytest.raises(RuntimeError, match="side failed"):
        graph.run(ctx, state, "last")
    assert state.get("partner") is not None and state.get("last") is None


def test_load_now_loads_through_load_or_a_lazy_model_property():
    loads = []

    class Lazy:
        @property
        def model(self):
            loads.append("lazy")
            return object()

    class Explicit:
        def load(self):
            loads.append("load")

    class Neither:
        model = "a name, not a loader"

    for backend in (Lazy(), Explicit(), Neither()):
        capabilities.load_now(backend)
    assert loads == ["lazy", "load"]
    assert not isinstance(Lazy(), capabilities.Loadable) and loads == ["lazy", "load"]  # asking loads nothing


def test_warm_up_loads_the_given_backends(tmp_path):
    loaded = []

    class LoadingAsr(FixedAsr):
        def load(self):
            loaded.append(self.name)

    pipeline = Pipeline(Workspace(tmp_path / "ws"), PipelineOptions(emotion="off", language="en"),
                        backends={"asr": LoadingAsr(), "diarize": OneSpeaker()})
    pipeline.warm_up()
    assert loaded == ["fixed-asr"] and set(pipeline.backends()) == {"asr", "diarize"}
