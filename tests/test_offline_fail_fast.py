"""GPU-tier backends whose model is not cached fail in seconds when the hub is unreachable, instead
of after huggingface_hub's minute of retries. Nothing leaves this machine: the connection probe is
stubbed, and so are the download functions (they must not even be called)."""

from __future__ import annotations

import errno
import socket
import time

import pytest
from needs import require

from vtxlib.errors import BackendUnavailable


@pytest.fixture
def unreachable_hub(monkeypatch):
    """No HF_HUB_OFFLINE, no proxy, and every connection attempt fails at once."""
    import huggingface_hub.constants

    for name in ("HF_HUB_OFFLINE", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "HTTP_PROXY",
                 "http_proxy", "HF_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    probes = []

    def refuse(address, *args, **kwargs):
        probes.append(address)
        raise OSError(errno.ENETUNREACH, "Network is unreachable")

    monkeypatch.setattr(socket, "create_connection", refuse)
    return probes


def test_nemo_model_not_cached_fails_fast_without_the_hub_retries(tmp_path, monkeypatch, unreachable_hub):
    import huggingface_hub

    from vtxlib.asr.nemo import restore_nemo

    downloads = []
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", lambda *a, **k: downloads.append(a or k) or 1 / 0)

    class NeverLoaded:
        @classmethod
        def from_pretrained(cls, *args, **kwargs):
            downloads.append("from_pretrained")

    started = time.perf_counter()
    with pytest.raises(BackendUnavailable) as caught:
        restore_nemo(NeverLoaded, "nvidia/parakeet-tdt-0.6b-v2", cache_dir=tmp_path)
    assert time.perf_counter() - started < 5
    assert downloads == [] and unreachable_hub == [("huggingface.co", 443)]
    message = str(caught.value)
    assert "offline" in message and "unreachable" in message and "--asr whisper-cpu" in message
    assert "\n" not in message


def test_speechbrain_model_not_fetched_fails_fast_without_the_hub_retries(tmp_path, monkeypatch, unreachable_hub):
    require("speechbrain", extra="gpu")
    import speechbrain.inference.interfaces as interfaces

    from vtxlib.emotion.speechbrain import SpeechBrainEmotion

    loads = []
    monkeypatch.setattr(interfaces, "foreign_class", lambda *a, **k: loads.append(k) or 1 / 0)
    started = time.perf_counter()
    with pytest.raises(BackendUnavailable) as caught:
        SpeechBrainEmotion(cache_dir=tmp_path).load()
    assert time.perf_counter() - started < 5 and loads == [] and unreachable_hub == [("huggingface.co", 443)]
    assert "unreachable" in str(caught.value) and "--emotion embedded" in str(caught.value)


def test_a_reachable_hub_or_a_cached_model_is_not_refused(tmp_path, monkeypatch, unreachable_hub):
    from vtxlib import gpu

    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: socket.socket())
    assert gpu.hf_offline_reason() is None
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert "HF_HUB_OFFLINE" in gpu.hf_offline_reason()
    assert not gpu.hub_file_cached("nvidia/parakeet-tdt-0.6b-v2", "parakeet-tdt-0.6b-v2.nemo", tmp_path)


def test_pyannote_pipeline_not_cached_fails_fast_without_the_hub_retries(tmp_path, monkeypatch, unreachable_hub):
    require("pyannote.audio", extra="gpu")
    import pyannote.audio

    from vtxlib.diarize.pyannote import load_pyannote_pipeline

    calls = []
    monkeypatch.setattr(pyannote.audio.Pipeline, "from_pretrained",
                        classmethod(lambda cls, *a, **k: calls.append(a) or 1 / 0))
    started = time.perf_counter()
    with pytest.raises(BackendUnavailable) as caught:
        load_pyannote_pipeline("pyannote/speaker-diarization-community-1", token=None, cache_dir=tmp_path)
    assert time.perf_counter() - started < 5
    assert calls == [] and unreachable_hub == [("huggingface.co", 443)]
    message = str(caught.value)
    assert "offline" in message and "--diarizer embedded" in message and "\n" not in message
