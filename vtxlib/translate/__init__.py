"""Translated caption tracks: one backend per module behind :class:`~.base.Translator`.

* ``gemini`` (:mod:`.gemini`): any language pair, with a Gemini API key; cue ids in, cue texts out.
* ``whisper`` (:mod:`.whisper`): Whisper's translate task on the CPU tier, into English only; each
  cue's own audio span is translated, so timings stay the original's.
* ``canary`` (:mod:`.canary`): NVIDIA Canary's speech translation on the GPU tier, for the pairs in
  :data:`.canary.CANARY_PAIRS`.

:func:`choose_translator` picks one per target language before any work, or raises
:class:`~.base.NoTranslationBackend` naming what would serve.
"""

from __future__ import annotations

import re
from typing import Optional

from ..errors import InputError
from .base import CueSource, NoTranslationBackend, TranslationRequest, Translator

TRANSLATORS = ("auto", "gemini", "whisper", "canary")
_LANGUAGE_CODE = re.compile(r"[a-z]{2,3}(-[a-z0-9]{2,8})*")

__all__ = ["TRANSLATORS", "CueSource", "NoTranslationBackend", "TranslationRequest", "Translator",
           "parse_languages", "choose_translator", "create_translator"]


def parse_languages(value: Optional[str]) -> list[str]:
    """``"en, pt-BR"`` -> ``["en", "pt-br"]`` (lower case, no duplicates); a bad code raises InputError."""
    codes: list[str] = []
    for raw in (value or "").split(","):
        code = raw.strip().lower().replace("_", "-")
        if not code:
            continue
        if not _LANGUAGE_CODE.fullmatch(code):
            raise InputError(f"--translate {raw.strip()!r}: expected language codes such as en, fr or pt-BR, "
                             f"separated by commas")
        if code not in codes:
            codes.append(code)
    return codes


def choose_translator(choice: str, source: Optional[str], target: str, *, gemini_key: bool,
                      gpu_tier: bool) -> str:
    """The backend name that will make the SOURCE -> TARGET track, or NoTranslationBackend naming
    what would serve. ``gpu_tier``: NeMo is installed and a CUDA GPU is present."""
    from .canary import canary_supports

    whisper_ok = target == "en"
    canary_ok = canary_supports(source, target)
    if choice == "gemini":
        if gemini_key:
            return "gemini"
        raise NoTranslationBackend(f"--translator gemini needs a Gemini API key for the {target} track: set "
                                   f"GEMINI_API_KEY (environment, Colab secrets or <workspace>/secrets/)")
    if choice == "whisper":
        if whisper_ok:
            return "whisper"
        raise NoTranslationBackend(f"--translator whisper translates into English only, not {target}: set "
                                   f"GEMINI_API_KEY and use --translator gemini (any language)")
    if choice == "canary":
        if canary_ok and gpu_tier:
            return "canary"
        if not canary_ok:
            from .canary import describe_pairs

            raise NoTranslationBackend(f"Canary does not translate {source or 'this language'} into {target} "
                                       f"(it translates {describe_pairs()}); set GEMINI_API_KEY and use "
                                       f"--translator gemini")
        raise NoTranslationBackend("--translator canary needs the GPU tier (NeMo and a CUDA GPU); on this "
                                   "machine use --translator whisper (English only) or gemini")
    if gemini_key:
        return "gemini"
    if canary_ok and gpu_tier:
        return "canary"
    if whisper_ok:
        return "whisper"
    raise NoTranslationBackend(
        f"no translation backend for the {target} track here: set GEMINI_API_KEY (Gemini translates into any "
        f"language); offline, only English targets are available (Whisper's translate task)"
        + ("" if gpu_tier else ", and Canary on a GPU adds English <-> German, Spanish, French"))


def create_translator(name: str, *, api_key: Optional[str] = None, cache_dir=None, model: Optional[str] = None):
    if name == "gemini":
        from .gemini import GeminiTranslateOptions, GeminiTranslator

        options = GeminiTranslateOptions(**({"model": model} if model else {}))
        return GeminiTranslator(options, api_key=api_key)
    if name == "whisper":
        from .whisper import WhisperTranslator

        return WhisperTranslator()
    if name == "canary":
        from .canary import CanaryTranslator

        return CanaryTranslator(cache_dir=cache_dir)
    raise InputError(f"unknown translator {name!r}: expected one of {', '.join(TRANSLATORS)}")
