"""Language stage: which language the speech is in, identified on the speech itself.

Runs between the speech stage and ASR, cached like every stage. The speech stage's regions are
grouped into windows of about ``window_s`` seconds of speech (no silence, no music between
regions), and up to ``max_windows`` of them, spread evenly over the file, go through Whisper's
language identification (faster-whisper ``WhisperModel.detect_language``) with the multilingual
``base`` model shipped in the CPU tier's packages. The result (:class:`~vtxlib.types.LanguageDetection`):

* the probabilities per language (the windows' mean, weighted by their speech), the chosen
  language and its probability;
* each language's share of the speech, counting a window for the language it chose when it chose
  it confidently (else for the main language) and, with a decoder, when decoding confirms it (the
  window decoded with the main language and with its own forced, scored as the rescoring below scores
  its candidates with the window's own probabilities; its own language must win without a decode
  that repeats itself or gives up), and the stretches (spans) in each language, each change of
  language located inside the two windows around it by halving them (``change_search_depth``). The
  file's language is the one most of its speech is in. When a second language holds more than
  ``second_language_share`` of the speech, one warning line says so, and whisper-cpu decodes each
  stretch in its own language;
* ``low_confidence`` when there is too little speech, the windows were unsure of what they heard
  (their top probability, averaged, below ``min_probability``), or decoding chose another language
  than the sound did in a file of one language: one line says so, and the best guess is used;
  ``--language xx`` chooses instead.

* **rescoring** when the windows' top language is below ``rescore_below``: one window (the
  longest) is decoded with each of the ``rescore_candidates`` most probable languages forced, and
  each candidate is scored by the decoder's mean log-probability per token plus
  ``rescore_prior_weight`` times the log of its acoustic probability, less ``degenerate_penalty``
  when the decode repeats itself or yields almost nothing. English below
  ``english_sure_probability`` is only chosen when its decode is fluent (mean log-probability at
  least ``english_min_logprob``): a voice Whisper cannot place is often heard as English, and its
  English decode is then a translation or a hallucination, so an unsure English does not send other
  speech to the English-only model. English at least that probable is kept without rescoring. The candidates and their
  scores are kept in the result (``candidates``, ``acoustic_language``).

``--language xx`` (any of Whisper's language codes, :data:`WHISPER_LANGUAGES`) skips detection: the
result says ``source="forced"``.
"""

from __future__ import annotations

import logging
import math
from typing import Callable, NamedTuple, Optional, Sequence

import numpy as np

from .audio import SAMPLE_RATE
from .errors import InputError
from .types import LanguageCandidate, LanguageDetection, LanguageSpan, OptionsModel

log = logging.getLogger("vtxlib.language")

#: Whisper's language codes (faster_whisper.tokenizer._LANGUAGE_CODES, faster-whisper 1.2.1).
WHISPER_LANGUAGES: tuple[str, ...] = (
    "af", "am", "ar", "as", "az", "ba", "be", "bg", "bn", "bo", "br", "bs", "ca", "cs", "cy", "da", "de",
    "el", "en", "es", "et", "eu", "fa", "fi", "fo", "fr", "gl", "gu", "ha", "haw", "he", "hi", "hr", "ht",
    "hu", "hy", "id", "is", "it", "ja", "jw", "ka", "kk", "km", "kn", "ko", "la", "lb", "ln", "lo", "lt",
    "lv", "mg", "mi", "mk", "ml", "mn", "mr", "ms", "mt", "my", "ne", "nl", "nn", "no", "oc", "pa", "pl",
    "ps", "pt", "ro", "ru", "sa", "sd", "si", "sk", "sl", "sn", "so", "sq", "sr", "su", "sv", "sw", "ta",
    "te", "tg", "th", "tk", "tl", "tr", "tt", "uk", "ur", "uz", "vi", "yi", "yo", "zh", "yue")
AUTO = "auto"
DETECTOR_MODEL = "base"  # the bundled multilingual model (vtxlib.asr.whisper_cpu.BUNDLED_MODELS)


#: ISO 639 codes that Whisper spells otherwise: Javanese, Norwegian Bokmål, Filipino, and the withdrawn
#: codes of Hebrew, Indonesian and Yiddish that some systems still write.
WHISPER_SPELLING = {"jv": "jw", "nb": "no", "fil": "tl", "iw": "he", "in": "id", "ji": "yi"}


def normalise_language(value: Optional[str]) -> str:
    """``auto`` (None or empty too) or a Whisper language code; anything else is an InputError.

    A language tag with a region or script (``pt-BR``, ``en_US``, ``zh-Hant-TW``, as YouTube and
    browsers write them) is read as its language, since Whisper knows no regions; ISO codes that
    Whisper spells otherwise (``jv``, ``nb``, ...) are read as Whisper's."""
    if value is None or not str(value).strip():
        return AUTO
    code = str(value).strip().lower()
    if code == AUTO or code in WHISPER_LANGUAGES:
        return code
    language = code.replace("_", "-").split("-")[0]
    language = WHISPER_SPELLING.get(language, language)
    if language in WHISPER_LANGUAGES:
        return language
    raise InputError(f"--language {value!r}: expected auto or one of Whisper's language codes "
                     f"({', '.join(WHISPER_LANGUAGES)}); a tag with a region such as pt-BR is read as its language")


def live_language(value: Optional[str]) -> Optional[str]:
    """The language named for live transcription: a Whisper code, or None when none was named (None,
    empty or ``auto``): English at first, then the language the first ~10 s of speech are identified
    as (``vtxlib.live.language_check``; one utterance is too little speech to identify)."""
    code = normalise_language(value)
    return None if code == AUTO else code


class LanguageOptions(OptionsModel):
    """How the language is identified (all part of the stage's cache key)."""

    window_s: float = 10.0  # seconds of speech per window
    min_window_s: float = 3.0  # a shorter last window joins the one before it
    max_windows: int = 8  # at most this many windows, spread over the file
    min_speech_s: float = 1.5  # less speech than this: low confidence
    min_probability: float = 0.5  # the chosen language below this: low confidence
    window_min_probability: float = 0.5  # a window counts for another language only this sure of it
    second_language_share: float = 0.2  # a second language above this share of the speech is reported
    # rescoring by decoding (constants chosen on the multilingual corpus's dev half, docs/languages.md)
    rescore_below: float = 0.9  # top language below this: rescore (dev: same accuracy from 0.5 to 0.9; English 0.78-0.98)
    rescore_candidates: int = 5  # the top-k languages decoded (dev, clips >= 10 s: 26/33 at k=5 and 6, 25 at k=3)
    rescore_prior_weight: float = 1.5  # weight of ln(acoustic probability) (dev: 26/33 at 1.5 and 2, 25 at 1, 23 at 0)
    degenerate_penalty: float = 3.0  # subtracted from a repeating or empty decode's score (dev: 26/33 at 3, 24 at 1)
    max_compression_ratio: float = 2.4  # a decode compressing better than this repeats itself (faster-whisper's own)
    min_tokens_per_s: float = 1.0  # fewer tokens per second of speech: the decode gave up ("I'm", "The")
    english_min_logprob: float = -0.7  # unsure English needs a decode this fluent (dev: English >= -0.55, others <= -0.81)
    english_sure_probability: float = 0.53  # English this probable is kept, not rescored (dev gap: other languages
    # heard as English <= 0.48, English conversations that decode poorly >= 0.58)
    # where the language changes between two windows, the change is looked for inside them by halving
    change_search_depth: int = 2  # halvings per window (10 s windows: to within 2.5 s)
    change_min_s: float = 2.0  # a part with less speech than this is not heard on its own


def forced(language: str) -> LanguageDetection:
    """The result for ``--language LANGUAGE``: nothing detected."""
    return LanguageDetection(language=language, probability=None, source="forced",
                             note=f"language {language} (forced with --language)")


def unidentified(reason: str) -> LanguageDetection:
    """The result when the language could not be identified here (the detector's model is missing)."""
    return LanguageDetection(language=None, low_confidence=True,
                             note=f"language not identified ({reason}); the default model's language is used: "
                                  f"choose one with --language xx")


def speech_windows(regions: Sequence[tuple[float, float]], options: LanguageOptions) -> list[list[tuple[float, float]]]:
    """The regions grouped into windows of about ``window_s`` seconds of speech (a region longer than
    that is cut); a last window under ``min_window_s`` joins the previous one."""
    windows: list[list[tuple[float, float]]] = []
    current: list[tuple[float, float]] = []
    held = 0.0
    for start, end in regions:
        while end - start > 0:
            take = min(end - start, options.window_s - held)
            current.append((start, start + take))
            held += take
            start += take
            if held >= options.window_s - 1e-6:
                windows.append(current)
                current, held = [], 0.0
    if current:
        if held < options.min_window_s and windows:
            windows[-1].extend(current)
        else:
            windows.append(current)
    return windows


def spread(count: int, limit: int) -> list[int]:
    """Indices of at most LIMIT of COUNT items, spread evenly (first and last included)."""
    if count <= limit:
        return list(range(count))
    return sorted({int(round(i * (count - 1) / (limit - 1))) for i in range(limit)}) if limit > 1 else [count // 2]


def window_seconds(window: Sequence[tuple[float, float]]) -> float:
    return sum(end - start for start, end in window)


#: detect(samples) -> [(language, probability), ...] best first
Detector = Callable[[np.ndarray], list[tuple[str, float]]]


class Decoded(NamedTuple):
    """One window decoded with a language forced."""

    avg_logprob: float  # the decoder's mean log-probability per token
    tokens: int
    compression_ratio: float  # of the text (gzip): high when it repeats itself
    text: str = ""


#: decode(samples, languages) -> {language: Decoded} (each language forced in turn)
Decoder = Callable[[np.ndarray, Sequence[str]], dict[str, Decoded]]
Heard = list[tuple[list[tuple[float, float]], float, dict[str, float]]]


def identify(read: Callable[[float, float], np.ndarray], regions: Sequence[tuple[float, float]],
             detect: Detector, options: Optional[LanguageOptions] = None,
             decode: Optional[Decoder] = None) -> LanguageDetection:
    """Identify the language of the speech in REGIONS; READ(start, end) gives the samples. With DECODE,
    an unsure identification is rescored by decoding its longest window in each top candidate, and a
    window heard as another language counts for it only if it decodes better in it than in the main one."""
    options = options or LanguageOptions()
    windows = speech_windows(regions, options)
    heard: Heard = []
    sounds: list[np.ndarray] = []
    indices: list[int] = []
    for index in spread(len(windows), options.max_windows):
        samples = _samples(read, windows[index])
        if len(samples) < int(0.1 * SAMPLE_RATE):
            continue
        heard.append((windows[index], len(samples) / SAMPLE_RATE, dict(detect(samples))))
        sounds.append(samples)
        indices.append(index)
    speech_s = sum(e - s for s, e in regions)
    detection = conclude(heard, speech_s, options)
    if decode is None or detection.language is None:
        return detection
    main, candidates = detection.language, None
    if detection.probability < options.rescore_below and \
            not (detection.language == "en" and detection.probability >= options.english_sure_probability):
        longest = max(range(len(heard)), key=lambda i: len(sounds[i]))
        try:
            candidates = rescore(decode, sounds[longest], _mean_probabilities(heard), options)
        except Exception as e:  # noqa: BLE001 - a refinement: without it the acoustic choice stands
            log.warning("language: rescoring by decoding failed (%s: %s); keeping %s from the sound alone",
                        type(e).__name__, e, detection.language)
            return detection
        winner = max((c for c in candidates if c.score is not None), key=lambda c: c.score, default=None)
        main = winner.language if winner is not None else detection.language
    # every window heard as another language is checked with its own probabilities, the longest too:
    # the file's mean probabilities, which chose MAIN, would hold a genuine second language down
    unconfirmed = confirm_windows(decode, heard, sounds, main, options)
    leading = _leading(labelled(heard, main, unconfirmed, options), main)
    if leading != main:
        # windows confirmed in another language hold more of the speech than the language chosen for the
        # longest window: the file's language is the one most of it is in, and the windows are checked
        # against it instead
        main = leading
        unconfirmed = confirm_windows(decode, heard, sounds, main, options)
    pieces = labelled(heard, main, unconfirmed, options, indices)
    if len({piece.language for piece in pieces}) > 1:
        pieces = locate_changes(read, detect, decode, pieces, windows, options)
    if candidates is None and not unconfirmed and pieces == labelled(heard, main, (), options, indices):
        return detection
    return conclude(heard, speech_s, options, main=main, candidates=candidates, unconfirmed=unconfirmed,
                    pieces=pieces)


def _leading(pieces: list["Piece"], main: str) -> str:
    """The language most of the speech is in (MAIN on a tie)."""
    seconds: dict[str, float] = {main: 0.0}
    for piece in pieces:
        seconds[piece.language] = seconds.get(piece.language, 0.0) + piece.seconds
    return max(seconds, key=lambda language: (seconds[language], language == main))


def _samples(read: Callable[[float, float], np.ndarray], regions: Sequence[tuple[float, float]]) -> np.ndarray:
    return np.concatenate([read(s, e) for s, e in regions]) if regions else np.zeros(0, np.float32)


class Piece(NamedTuple):
    """A stretch of speech with its language: a window, or part of one."""

    regions: list[tuple[float, float]]
    seconds: float  # of speech
    language: str
    window: int  # the index of the window it is (part of), in the file's order


def labelled(heard: Heard, main: str, unconfirmed: frozenset[int] | set[int] | tuple,
             options: LanguageOptions, indices: Optional[Sequence[int]] = None) -> list[Piece]:
    """Each window (its index in INDICES) with the language it counts for: its own when it chose it
    confidently and decoding did not overrule it (UNCONFIRMED), else MAIN."""
    indices = list(range(len(heard))) if indices is None else indices
    return [Piece(window, seconds, main if i in unconfirmed else _window_label(probs, main, options), index)
            for i, ((window, seconds, probs), index) in enumerate(zip(heard, indices))]


def cut(regions: Sequence[tuple[float, float]], start_s: float, end_s: float) -> list[tuple[float, float]]:
    """The part of REGIONS between START_S and END_S seconds of speech from their start."""
    out, offset = [], 0.0
    for start, end in regions:
        lo, hi = max(start_s - offset, 0.0), min(end_s - offset, end - start)
        if hi - lo > 1e-6:
            out.append((start + lo, start + hi))
        offset += end - start
    return out


def locate_changes(read: Callable[[float, float], np.ndarray], detect: Detector, decode: Decoder,
                   pieces: list[Piece], windows: Sequence[list[tuple[float, float]]],
                   options: LanguageOptions) -> list[Piece]:
    """Where two successive pieces are in different languages, the change lies somewhere between their
    starts, not at a window's edge. The windows between them that were not heard (a long file's
    windows are spread over it) are heard by bisection, each judged between the two languages (heard
    and decoded in both, as a window is confirmed), until the change lies between two neighbouring
    windows; then the half of the earlier one next to the change is heard again: if it is in the later
    language the change moves to its start and the half before it is searched, else the change is
    searched inside it, ``change_search_depth`` times; when the earlier window keeps all of its speech,
    the later window's first half is searched the same way. The windows left unheard are then in the
    language on both sides of them, so the pieces cover all of the speech (and the shares are of all
    of it, not of the windows heard, which the bisection would crowd around each change)."""
    out: list[Piece] = [pieces[0]]
    for piece in pieces[1:]:
        before = out[-1]
        if before.language == piece.language:
            out.append(piece)
            continue
        sequence = [out.pop(), *_bisect(read, detect, decode, windows, before, piece, options), piece]
        last = max(i for i, p in enumerate(sequence) if p.language == before.language)
        out += sequence[:last] + _halve(read, detect, decode, sequence[last], sequence[last + 1], options)
        out += sequence[last + 2:]
    return _fill([p for p in out if p.seconds > 0], windows)


def _fill(pieces: list[Piece], windows: Sequence[list[tuple[float, float]]]) -> list[Piece]:
    """PIECES with the windows still unheard, each in the language of the pieces on both sides of it
    (after the bisection, two pieces around an unheard window are in the same language)."""
    heard = {p.window for p in pieces}
    out: list[Piece] = []
    for piece in pieces:
        if out:
            out += [Piece(windows[i], window_seconds(windows[i]), out[-1].language, i)
                    for i in range(out[-1].window + 1, piece.window) if i not in heard]
        out.append(piece)
    return out


def _bisect(read, detect: Detector, decode: Decoder, windows: Sequence[list[tuple[float, float]]],
            before: Piece, after: Piece, options: LanguageOptions) -> list[Piece]:
    """The windows between BEFORE's and AFTER's heard until the change lies between two neighbours, in
    the file's order (those in BEFORE's language first)."""
    heard: list[Piece] = []
    low, high = before.window, after.window
    while high - low > 1:
        middle = (low + high) // 2
        regions = windows[middle]
        later = _heard_as(read, detect, decode, regions, before.language, after.language, options)
        heard.append(Piece(regions, window_seconds(regions), after.language if later else before.language, middle))
        low, high = (low, middle) if later else (middle, high)
    return sorted(heard, key=lambda p: p.window)


def _halve(read, detect: Detector, decode: Decoder, before: Piece, after: Piece,
           options: LanguageOptions) -> list[Piece]:
    """BEFORE and AFTER (neighbours, in different languages) with the change located inside them."""
    total = window_seconds(before.regions)
    kept = _search_change(read, detect, decode, before.regions, before.language, after.language, True, options)
    if kept < total:
        head, moved = cut(before.regions, 0.0, kept), cut(before.regions, kept, total)
        return [before._replace(regions=head, seconds=window_seconds(head)),
                before._replace(regions=moved, seconds=window_seconds(moved), language=after.language), after]
    total = window_seconds(after.regions)
    given = _search_change(read, detect, decode, after.regions, after.language, before.language, False, options)
    moved, rest = cut(after.regions, 0.0, given), cut(after.regions, given, total)
    return [before, after._replace(regions=moved, seconds=window_seconds(moved), language=before.language),
            after._replace(regions=rest, seconds=window_seconds(rest))]


def _search_change(read, detect: Detector, decode: Decoder, regions: list[tuple[float, float]], own: str,
                   other: str, at_end: bool, options: LanguageOptions) -> float:
    """Where in REGIONS (seconds of their speech) OWN changes to OTHER: AT_END, OTHER is found at their end
    and the seconds before it are returned (all of them: none found); else OTHER is found at their
    start and its seconds are returned (0: none found)."""
    total = window_seconds(regions)
    lo, hi = 0.0, total
    change = total if at_end else 0.0
    for _ in range(options.change_search_depth):
        middle = (lo + hi) / 2
        near = (middle, hi) if at_end else (lo, middle)
        if near[1] - near[0] < options.change_min_s:
            break
        if _heard_as(read, detect, decode, cut(regions, *near), own, other, options):
            change = middle
            lo, hi = (lo, middle) if at_end else (middle, hi)
        else:
            lo, hi = near
    return change


def _heard_as(read, detect: Detector, decode: Decoder, regions: list[tuple[float, float]], own: str,
              other: str, options: LanguageOptions) -> bool:
    """Whether REGIONS are in OTHER rather than OWN: decoded in both, scored with their own probabilities
    (as a window is confirmed); a decode that repeats itself or gives up is no evidence."""
    samples = _samples(read, regions)
    try:
        return decodes_better_in(decode, samples, dict(detect(samples)), own, other, options)
    except Exception as e:  # noqa: BLE001 - a refinement: without it the change stays at the window's edge
        log.warning("language: looking for where %s changes to %s failed (%s: %s)", own, other, type(e).__name__, e)
        return False


def decodes_better_in(decode: Decoder, samples: np.ndarray, probabilities: dict[str, float], main: str,
                      other: str, options: LanguageOptions) -> bool:
    """Whether SAMPLES, decoded with MAIN and with OTHER forced (one batch) and scored as the rescoring
    scores its candidates with their own acoustic PROBABILITIES, are in OTHER: it must win, and not by a
    decode that repeats itself or gives up (no evidence of any language)."""
    scored = rescore(decode, samples, {main: probabilities.get(main, 0.0), other: probabilities.get(other, 0.0)},
                     options.model_copy(update={"rescore_candidates": 2}))
    winner = max((c for c in scored if c.score is not None), key=lambda c: c.score, default=None)
    return winner is not None and winner.language == other and not winner.degenerate


def confirm_windows(decode: Decoder, heard: Heard, sounds: Sequence[np.ndarray], main: str,
                    options: LanguageOptions) -> set[int]:
    """The windows heard confidently as another language than MAIN that do not decode better in it: each
    such window is decoded with MAIN and with its own language forced (one batch) and scored as the
    rescoring scores its candidates, with the window's own acoustic probabilities; its own language
    must win, and not by a decode that repeats itself or gives up (no evidence of any language)."""
    unconfirmed: set[int] = set()
    for i, ((_, _, probs), samples) in enumerate(zip(heard, sounds)):
        own = _window_label(probs, main, options)
        if own == main:
            continue
        try:
            confirmed = decodes_better_in(decode, samples, probs, main, own, options)
        except Exception as e:  # noqa: BLE001 - a refinement: without it the windows count as heard
            log.warning("language: checking a window heard as %s by decoding failed (%s: %s); it counts as heard",
                        own, type(e).__name__, e)
            return unconfirmed
        if not confirmed:
            unconfirmed.add(i)
    return unconfirmed


def rescore(decode: Decoder, samples: np.ndarray, probabilities: dict[str, float],
            options: LanguageOptions) -> list[LanguageCandidate]:
    """The top candidates, each scored by decoding SAMPLES with its language forced."""
    ranked = sorted(probabilities.items(), key=lambda kv: -kv[1])[:options.rescore_candidates]
    decoded = decode(samples, [lang for lang, _ in ranked])
    seconds = len(samples) / SAMPLE_RATE
    out = []
    for lang, p in ranked:
        d = decoded.get(lang)
        if d is None:
            continue
        degenerate = d.compression_ratio > options.max_compression_ratio or d.tokens < options.min_tokens_per_s * seconds
        score: Optional[float] = d.avg_logprob + options.rescore_prior_weight * math.log(max(p, 1e-4)) \
            - (options.degenerate_penalty if degenerate else 0.0)
        if lang == "en" and p < options.english_sure_probability and \
                (degenerate or d.avg_logprob < options.english_min_logprob):
            score = None  # not fluent English: the English-only model would turn it into English text
        out.append(LanguageCandidate(language=lang, probability=round(p, 4), avg_logprob=round(d.avg_logprob, 3),
                                     degenerate=degenerate, score=None if score is None else round(score, 3)))
    return out


def _mean_probabilities(heard: Heard) -> dict[str, float]:
    total = sum(seconds for _, seconds, _ in heard)
    mean: dict[str, float] = {}
    for _, seconds, probs in heard:
        for lang, p in probs.items():
            mean[lang] = mean.get(lang, 0.0) + p * seconds / total
    return mean


def conclude(heard: Heard, speech_s: float, options: LanguageOptions, main: Optional[str] = None,
             candidates: Optional[list[LanguageCandidate]] = None,
             unconfirmed: frozenset[int] | set[int] = frozenset(),
             pieces: Optional[list[Piece]] = None) -> LanguageDetection:
    """The detection from each window's (regions, seconds, probabilities); MAIN (the rescoring's
    choice) replaces the acoustic top language when given, and the windows UNCONFIRMED by decoding
    (their indices) count for the main language. PIECES, when given, are the speech with its language
    (the windows relabelled where the change between languages was located)."""
    total = sum(seconds for _, seconds, _ in heard)
    if not heard or total <= 0:
        return LanguageDetection(language=None, probability=None, low_confidence=True, windows=0,
                                 speech_seconds=round(speech_s, 2),
                                 note="language: no speech to identify the language from")
    mean = _mean_probabilities(heard)
    ranked = sorted(mean.items(), key=lambda kv: -kv[1])
    acoustic = ranked[0][0]
    language = main or acoustic
    probability = mean.get(language, 0.0)
    pieces = pieces if pieces is not None else labelled(heard, language, unconfirmed, options)
    shares: dict[str, float] = {}
    covered = sum(piece.seconds for piece in pieces)
    for piece in pieces:
        shares[piece.language] = shares.get(piece.language, 0.0) + piece.seconds / covered
    spans = _spans([(piece.regions, piece.language) for piece in pieces])
    # how sure the windows were of what they heard: a file that switches language is not unsure
    confidence = sum(max(probs.values()) * seconds / total for _, seconds, probs in heard)
    # decoding chose another language than the sound (which then found it under 0.5) in a file of one
    # language: a guess, said as one
    overruled = language != acoustic and not _second_languages(shares, language, options)
    low = speech_s < options.min_speech_s or confidence < options.min_probability or overruled
    detection = LanguageDetection(
        language=language, probability=round(probability, 4), source="detected",
        probabilities={k: round(v, 4) for k, v in ranked[:10] if v >= 0.001},
        shares={k: round(v, 3) for k, v in sorted(shares.items(), key=lambda kv: -kv[1])},
        spans=spans, low_confidence=low, windows=len(heard), speech_seconds=round(speech_s, 2),
        acoustic_language=acoustic if candidates else None, candidates=candidates or [],
        unconfirmed_windows=len(unconfirmed))
    detection.note = describe(detection, options)
    return detection


def _window_label(probs: dict[str, float], main: str, options: LanguageOptions) -> str:
    best, p = max(probs.items(), key=lambda kv: kv[1])
    return best if p >= options.window_min_probability else main


def _spans(labelled: list[tuple[list[tuple[float, float]], str]]) -> list[LanguageSpan]:
    spans: list[LanguageSpan] = []
    for window, label in labelled:
        start, end = window[0][0], window[-1][1]
        if spans and spans[-1].language == label:
            spans[-1].end = round(end, 3)
        else:
            spans.append(LanguageSpan(language=label, start=round(start, 3), end=round(end, 3)))
    return spans


def mixed(detection: LanguageDetection, options: Optional[LanguageOptions] = None) -> list[str]:
    """Languages besides the main one holding more than ``second_language_share`` of the speech."""
    return _second_languages(detection.shares, detection.language, options or LanguageOptions())


def _second_languages(shares: dict[str, float], main: Optional[str], options: LanguageOptions) -> list[str]:
    """The languages of SHARES besides MAIN above ``second_language_share``, by share."""
    return [lang for lang, share in sorted(shares.items(), key=lambda kv: -kv[1])
            if lang != main and share > options.second_language_share]


def describe(detection: LanguageDetection, options: LanguageOptions) -> str:
    """One line: the language found, or why it is unsure, or the second language heard."""
    if detection.source == "forced":
        return f"language {detection.language} (forced with --language)"
    if detection.language is None:
        return "language: no speech to identify the language from"
    rescored = (f"; chosen by decoding, the sound alone said {detection.acoustic_language}"
                if detection.acoustic_language not in (None, detection.language) else "")
    if detection.low_confidence:
        why = (f"only {detection.speech_seconds:.1f} s of speech" if detection.speech_seconds < options.min_speech_s
               else f"p={detection.probability:.2f}" + ("" if rescored else ": music, noise, or a voice or language the model cannot place"))
        return (f"language identification is unsure ({why}{rescored}): transcribing as {detection.language}; "
                f"choose another with --language xx")
    others = mixed(detection, options)
    if others:
        seen = ", ".join(f"{lang} {detection.shares.get(lang, 0.0):.0%}" for lang in [detection.language] + others)
        return f"more than one language in the speech ({seen}): each stretch is transcribed in its own language"
    return f"language {detection.language} detected (p={detection.probability:.2f}{rescored})"


def label(detection: Optional[LanguageDetection], language: Optional[str] = None) -> str:
    """A short label for a table (the batch status): "es", "es+de" (a second language heard),
    "hu (unsure)", "de (forced)"; LANGUAGE when nothing was detected."""
    if detection is None or detection.language is None:
        return language or ""
    if detection.source == "forced":
        return f"{detection.language} (forced)"
    if detection.low_confidence:
        return f"{detection.language} (unsure)"
    return "+".join([detection.language] + mixed(detection))


def how_found(detection: Optional[LanguageDetection]) -> str:
    """How the language was found, for a reader: "forced", "detected, p 0.90" or "unsure, p 0.15"."""
    if detection is None:
        return ""
    if detection.source == "forced":
        return "forced"
    return f"{'unsure' if detection.low_confidence else 'detected'}, p {detection.probability or 0.0:.2f}"


def warns(detection: Optional[LanguageDetection], options: Optional[LanguageOptions] = None) -> bool:
    """Whether the detection's note is a warning: unsure, nothing identified, or a second language heard."""
    return detection is not None and detection.source == "detected" and \
        (detection.low_confidence or detection.language is None or bool(mixed(detection, options)))


def log_note(detection: LanguageDetection, options: Optional[LanguageOptions] = None) -> None:
    """The detection's one line: a warning when it is unsure or heard a second language."""
    if warns(detection, options):
        log.warning("%s", detection.note)
    else:
        log.info("%s", detection.note)


def region_languages(regions: Sequence[tuple[float, float]], detection: LanguageDetection) -> list[Optional[str]]:
    """The language of each region by the detection's spans (the main one outside every span)."""
    out = []
    for start, end in regions:
        middle = (start + end) / 2
        span = next((s for s in detection.spans if s.start - 1e-6 <= middle <= s.end + 1e-6), None)
        out.append(span.language if span else detection.language)
    return out
