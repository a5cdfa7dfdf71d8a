"""Live transcription without a named language: does the language check end in the spoken language?

    python bench/live_language.py                 # test half, ~20 s clips of the ten corpus languages
    python bench/live_language.py --halves dev,test

Each ~20 s clip of vtxlib.testing.multilingual (both voices of the half) is replayed faster than real
time through ``create_live_transcriber()`` as ``vtxlib live`` makes it without ``--language``
(English at first, the first ~10 s of speech identified, the rest transcribed in the language
found), and again with the true language named. Printed per language: the language the session
ended in, the utterances transcribed before the check decided, and the error rate (CER for Japanese)
of both sessions against the clip's text. Nothing is chosen here: the check hears one of the language
stage's windows (``LanguageOptions.window_s``) and decides as the stage does.

Asserts nothing.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vtxlib import metrics  # noqa: E402
from vtxlib.live import WavFileSource, create_live_transcriber  # noqa: E402
from vtxlib.testing.multilingual import LANGUAGES, NO_SPACE_LANGUAGES, make_clip  # noqa: E402

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / ".fixtures" / "multilingual"


def session_text(transcriber, wav: Path) -> tuple[str, object]:
    session = transcriber.run(WavFileSource(wav, realtime=False, chunk_ms=100))
    return " ".join(u.text for u in session.utterances), session


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--halves", default="test")
    parser.add_argument("--languages", default=",".join(LANGUAGES))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    print(f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")
    started = time.perf_counter()
    checked = create_live_transcriber()
    first_asr = checked.asr
    named_by_language: dict = {}
    for half in args.halves.split(","):
        rows = defaultdict(list)  # language -> (ended in, utterances before the decision, error checked, error named)
        for language in args.languages.split(","):
            for voice in (0, 1):
                clip = make_clip(FIXTURES, language, half, voice, 20.0, first_sentence=3 * voice)
                checked.asr, checked.language = first_asr, "en"  # every clip starts as a fresh session would
                text, session = session_text(checked, clip.wav)
                before = session.language_decided_after
                if language not in named_by_language:
                    named_by_language[language] = create_live_transcriber(language=language)
                named_text, _ = session_text(named_by_language[language], clip.wav)
                by_chars = language in NO_SPACE_LANGUAGES
                detection = session.language_detection
                heard = "-" if detection is None else detection.language + ("?" if detection.low_confidence else "")
                rows[language].append((f"{session.language} ({heard})", before, metrics.error_rate(clip.text, text, by_chars),
                                       metrics.error_rate(clip.text, named_text, by_chars)))
        print(f"\n== {half} half: ~20 s clips, both voices ==")
        print("language | session ended in (the check heard; ? unsure: English kept) | utterances before the check "
              "decided | error, no --language | error, --language named")
        right = 0
        for language, found in rows.items():
            right += sum(r[0].split()[0] == language for r in found)
            print(f"  {language} | {', '.join(str(r[0]) for r in found)} | {', '.join(str(r[1]) for r in found)} | "
                  f"{100 * statistics.mean(r[2] for r in found):.1f} % | {100 * statistics.mean(r[3] for r in found):.1f} %")
        total = sum(len(found) for found in rows.values())
        print(f"sessions that ended in the spoken language: {right}/{total}")
    print(f"\ntotal {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
