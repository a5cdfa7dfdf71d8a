"""The live tracker's voice-match threshold, chosen on the dev half and checked on the test half.

    python bench/live_speaker_threshold.py

Every reference utterance of at least 1 s (the live tracker's shortest embedded utterance) of a
corpus conversation is embedded with CAM++; pairs from one conversation are same-voice or
different-voice. The threshold is the dev half's equal-error-rate point; the test half's error rates
at that threshold are printed beside it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vtxlib.diarize.models import embed_speech  # noqa: E402
from vtxlib.testing.corpus import make_corpus  # noqa: E402

DEFAULT_CORPUS = Path(__file__).resolve().parents[1] / "tests" / ".fixtures" / "corpus"


def pair_scores(files, per_file: int = 40):
    same, different = [], []
    for f in files:
        wav, rate = sf.read(f.wav, dtype="float32")
        turns = [t for t in f.reference_turns() if t.end - t.start >= 1.0][:per_file]
        vectors = np.array([embed_speech(wav[int(t.start * rate):int(t.end * rate)]) for t in turns])
        labels = np.array([t.speaker for t in turns])
        similarity = vectors @ vectors.T
        upper = np.triu_indices(len(turns), k=1)
        is_same = (labels[:, None] == labels[None])[upper]
        same += list(similarity[upper][is_same])
        different += list(similarity[upper][~is_same])
    return np.array(same), np.array(different)


def error_rates(same, different, threshold):
    return float(np.mean(same < threshold)), float(np.mean(different >= threshold))


def main() -> None:
    import torch
    torch.set_num_threads(1)
    files = make_corpus(DEFAULT_CORPUS)
    dev_same, dev_diff = pair_scores([f for f in files if f.half == "dev" and f.num_speakers > 1])
    grid = np.linspace(0.0, 1.0, 201)
    gaps = [abs(np.subtract(*error_rates(dev_same, dev_diff, t))) for t in grid]
    threshold = float(grid[int(np.argmin(gaps))])
    test_same, test_diff = pair_scores([f for f in files if f.half == "test" and f.num_speakers > 1])
    for half, (same, diff) in (("dev", (dev_same, dev_diff)), ("test", (test_same, test_diff))):
        miss, false_accept = error_rates(same, diff, threshold)
        print(f"{half}: threshold {threshold:.3f}: same-voice pairs rejected {100 * miss:.1f}% "
              f"({len(same)}), different-voice pairs accepted {100 * false_accept:.1f}% ({len(diff)})")


if __name__ == "__main__":
    main()
