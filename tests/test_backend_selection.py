"""`auto` picks the GPU tier only when CUDA and the libraries (and, for pyannote, a token) are there."""

import logging

import pytest

from vtxlib import gpu
from vtxlib.asr import resolve_asr_name
from vtxlib.diarize import resolve_diarizer_name
from vtxlib.errors import InputError


def test_auto_falls_back_to_the_embedded_tier_without_cuda(monkeypatch, caplog):
    monkeypatch.setattr(gpu, "cuda_available", lambda: False)
    with caplog.at_level(logging.INFO, logger="vtxlib"):
        assert resolve_asr_name("auto") == "whisper-cpu"
        assert resolve_diarizer_name("auto") == "embedded"
    assert "embedded CPU tier" in caplog.text  # the choice is logged


def test_auto_picks_the_gpu_tier_when_everything_is_present(monkeypatch, tmp_path):
    monkeypatch.setattr(gpu, "cuda_available", lambda: True)
    monkeypatch.setattr(gpu, "nemo_available", lambda: True)
    monkeypatch.setattr(gpu, "pyannote_available", lambda: True)
    for name in ("HF_TOKEN", "HUGGINGFACE_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    assert resolve_asr_name("auto") == "nemo"
    assert resolve_diarizer_name("auto", secrets_dir=tmp_path) == "embedded"  # no token: gated models
    monkeypatch.setenv("HF_TOKEN", "hf_test_token")
    assert resolve_diarizer_name("auto", secrets_dir=tmp_path) == "pyannote"


def test_explicit_names_are_kept_and_unknown_ones_refused():
    assert resolve_asr_name("nemo") == "nemo" and resolve_diarizer_name("pyannote") == "pyannote"
    with pytest.raises(InputError, match="expected one of"):
        resolve_asr_name("whisper-large")
    with pytest.raises(InputError, match="expected one of"):
        resolve_diarizer_name("kmeans")
