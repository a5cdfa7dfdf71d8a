"""Time building, writing and reading a long transcript (the stage-boundary types); prints figures.

    python bench/serialization.py [--words 30000]

It goes through ``to_dict``/``from_dict``, which both the dataclass types (schema 1) and the
pydantic models (schema 2, as a thin compatibility name) answer, so the same script times either.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vtxlib.types import AlignedTranscript, Document, Emotion, MediaInfo, Segment, Transcript, Turn, Word  # noqa: E402


def build(words: int) -> tuple[Transcript, Document]:
    ws = [Word(text=f" w{i}", start=i * 0.3, end=i * 0.3 + 0.25, prob=0.9, speaker=f"SPEAKER_0{i // 40 % 3}")
          for i in range(words)]
    segments = [Segment(text="", start=ws[i].start, end=ws[min(i + 19, words - 1)].end, words=ws[i:i + 20])
                for i in range(0, words, 20)]
    emotion = Emotion(label="neutral", scores={"neutral": 0.7, "happy": 0.1, "angry": 0.1, "sad": 0.1},
                      confidence=0.7, backend="embedded")
    turns = [Turn(speaker=ws[i].speaker, start=ws[i].start, end=ws[min(i + 39, words - 1)].end,
                  words=ws[i:i + 40], emotion=emotion) for i in range(0, words, 40)]
    media = MediaInfo(id="bench", title="bench", source="bench.wav", duration=words * 0.3)
    return Transcript(segments=segments, language="en"), Document(media=media,
                                                                 transcript=AlignedTranscript(turns=turns))


def timed(fn, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--words", type=int, default=30000)
    args = parser.parse_args()
    transcript, document = build(args.words)
    asr_json, doc_json = transcript.to_dict(), json.loads(json.dumps(document.to_dict()))
    rows = [("build", timed(lambda: build(args.words))),
            ("asr artifact to_dict", timed(transcript.to_dict)),
            ("asr artifact from_dict", timed(lambda: Transcript.from_dict(asr_json))),
            ("transcript.json to_dict", timed(document.to_dict)),
            ("transcript.json from_dict", timed(lambda: Document.from_dict(doc_json)))]
    size = len(json.dumps(doc_json))
    print(f"{args.words} words; transcript.json {size / 1e6:.2f} MB")
    for name, seconds in rows:
        print(f"{name:<28} {seconds * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
