"""Canary speech translation (GPU tier): the calls it makes are ones NeMo's EncDecMultiTaskModel
accepts, and its answers (NeMo Hypothesis objects) become one text per cue.

The real nvidia/canary-1b-flash is not loaded here (no GPU, no network): the model stand-in checks
every call against ``EncDecMultiTaskModel.transcribe``'s own signature and answers with NeMo's
``Hypothesis`` class. The pair table is tested in test_translate.py.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from needs import require

require("nemo.collections.asr", extra="gpu")

from nemo.collections.asr.models import EncDecMultiTaskModel  # noqa: E402
from nemo.collections.asr.parts.utils.rnnt_utils import Hypothesis  # noqa: E402

from vtxlib.audio import write_wav  # noqa: E402
from vtxlib.errors import InputError  # noqa: E402
from vtxlib.translate import TranslationRequest  # noqa: E402
from vtxlib.translate.base import CueSource  # noqa: E402
from vtxlib.translate.canary import CanaryTranslateOptions, CanaryTranslator  # noqa: E402

pytestmark = pytest.mark.gpu_tier


class CanaryStandIn:
    def __init__(self):
        self.calls = []

    def transcribe(self, audio, **kwargs):
        inspect.signature(EncDecMultiTaskModel.transcribe).bind(self, audio, **kwargs)  # NeMo's own signature
        self.calls.append((len(audio), kwargs))
        return [Hypothesis(score=0.0, y_sequence=[], text=f"[{kwargs['target_lang']}] clip of {len(a) / 16000:.1f} s")
                for a in audio]


def test_canary_translates_each_cue_span_with_its_language_prompt(tmp_path):
    wav = write_wav(tmp_path / "a.wav", np.zeros(16000 * 10, dtype=np.float32))
    cues = [CueSource(id=str(k + 1), speaker="S", text=f"hola {k}", start=k * 2.0, end=k * 2.0 + 1.5)
            for k in range(4)] + [CueSource(id="5", speaker="T", text="(overlapping speech)", start=8.0, end=9.0,
                                            overlap=True)]
    model = CanaryStandIn()
    translator = CanaryTranslator(CanaryTranslateOptions(batch_size=3, pad_s=0.0), model=model)
    texts = translator.translate(TranslationRequest(cues=cues, source="es", target="en", audio_path=str(wav)))
    assert set(texts) == {"1", "2", "3", "4", "5"}
    assert texts["1"] == "[en] clip of 1.5 s" and texts["5"] == "(overlapping speech)"
    assert [n for n, _ in model.calls] == [3, 1]
    assert all(kw["source_lang"] == "es" and kw["target_lang"] == "en" and kw["pnc"] == "yes" for _, kw in model.calls)


def test_canary_refuses_a_pair_it_does_not_have(tmp_path):
    translator = CanaryTranslator(model=CanaryStandIn())
    with pytest.raises(InputError, match="does not translate ja into en"):
        translator.translate(TranslationRequest(cues=[], source="ja", target="en", audio_path=None))
