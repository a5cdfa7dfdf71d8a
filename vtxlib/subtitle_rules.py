"""Subtitle rules per language and script: line length, reading speed, spacing and direction.

A small typed table (:data:`RULES`), each row naming the published guide it comes from (see
docs/subtitles.md). Languages not in the table get :data:`DEFAULT_RULES` (the English template:
42 characters a line, 17 characters a second).

Scripts written without spaces between words (Chinese, Japanese, Thai, Lao, Burmese, Khmer) are
counted and broken in characters: tokens of such text are joined with no space, and a line may end
between any two characters, never in front of closing punctuation. Right-to-left languages (Arabic,
Hebrew, Persian, Urdu, ...) get a RIGHT-TO-LEFT MARK (U+200F) at the start of every subtitle line,
so that a line opening with a Latin name, a number or a visible speaker label still runs right to
left in players that take a line's direction from its first strong character.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Optional

RLM = "\u200f"  # RIGHT-TO-LEFT MARK: an invisible strong right-to-left character

NETFLIX = "Netflix Timed Text Style Guide"


@dataclass(frozen=True)
class SubtitleRules:
    """How subtitles of one language are laid out."""

    language: str             # the language (or script) the row is for
    max_line_chars: int       # characters per line
    max_cps: float            # reading speed, characters per second
    spaced: bool = True       # words separated by spaces; False: counted and broken in characters
    rtl: bool = False         # written right to left
    source: str = ""          # the published guide each figure comes from


DEFAULT_RULES = SubtitleRules("default (English template)", 42, 17.0,
                              source=f"{NETFLIX}: English Template (42 characters per line; adult "
                                     f"reading speed 17 characters per second)")

RULES: dict[str, SubtitleRules] = {
    "en": DEFAULT_RULES,
    "ja": SubtitleRules("Japanese", 13, 4.0, spaced=False,
                        source=f"{NETFLIX}: Japanese (horizontal subtitles at most 13 full-width characters "
                               f"per line; reading speed 4 characters per second)"),
    "zh": SubtitleRules("Chinese", 16, 9.0, spaced=False,
                        source=f"{NETFLIX}: Simplified Chinese (PRC) and Traditional Chinese (16 characters "
                               f"per line; reading speed 9 characters per second)"),
    "yue": SubtitleRules("Cantonese", 16, 9.0, spaced=False,
                         source=f"{NETFLIX}: Traditional Chinese (Hong Kong) (16 characters per line; "
                                f"reading speed 9 characters per second)"),
    "th": SubtitleRules("Thai", 35, 15.0, spaced=False,
                        source=f"{NETFLIX}: Thai (35 characters per line); the reading speed of 15 "
                               f"characters per second is vtx's choice (the guide's figure could not be "
                               f"checked here)"),
    "ko": SubtitleRules("Korean", 16, 12.0,
                        source=f"{NETFLIX}: Korean (16 characters per line; reading speed 12 characters "
                               f"per second)"),
    "ar": SubtitleRules("Arabic", 42, 17.0, rtl=True,
                        source=f"{NETFLIX}: Arabic (42 characters per line); reading speed from the "
                               f"English template"),
    "he": SubtitleRules("Hebrew", 42, 17.0, rtl=True,
                        source=f"{NETFLIX}: Hebrew (42 characters per line); reading speed from the "
                               f"English template"),
    "fa": SubtitleRules("Persian", 42, 17.0, rtl=True,
                        source=f"{NETFLIX}: Persian (Farsi) (42 characters per line); reading speed from "
                               f"the English template"),
    "ur": SubtitleRules("Urdu", 42, 17.0, rtl=True,
                        source="English template figures (no language guide checked); right to left as "
                               "the Urdu script is"),
}
#: other right-to-left languages Whisper knows: direction only, the default figures
RTL_LANGUAGES = frozenset({"ar", "he", "fa", "ur", "yi", "ps", "sd", "ug", "dv", "ckb"})
#: other languages written without spaces: broken in characters, the default figures
UNSPACED_LANGUAGES = frozenset({"ja", "zh", "yue", "th", "lo", "my", "km", "bo"})


def rules_for(language: Optional[str]) -> SubtitleRules:
    """The rules for LANGUAGE (an ISO 639 code such as "ja" or "pt-BR"; None = English)."""
    code = (language or "en").strip().lower().replace("_", "-")
    base = code.split("-")[0]
    if base == "zh" and code in ("zh-hk", "zh-yue"):
        base = "yue"
    rules = RULES.get(base)
    if rules is not None:
        return rules
    if base in RTL_LANGUAGES or base in UNSPACED_LANGUAGES:
        return SubtitleRules(base, DEFAULT_RULES.max_line_chars, DEFAULT_RULES.max_cps,
                             spaced=base not in UNSPACED_LANGUAGES, rtl=base in RTL_LANGUAGES,
                             source="English template figures; direction and spacing from the script")
    return DEFAULT_RULES


def is_rtl(language: Optional[str]) -> bool:
    return rules_for(language).rtl


# -- characters --------------------------------------------------------------------------------

# Han, kana, CJK punctuation and full-width forms, Thai, Lao, Tibetan, Burmese, Khmer
_UNSPACED = re.compile("[\u0e00-\u0eff\u0f00-\u0fff\u1000-\u109f\u1780-\u17ff\u2e80-\u2fdf\u3000-\u30ff"
                       "\u3100-\u312f\u31a0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef"
                       "\U00020000-\U0003134f]")
# what may not begin a line (Japanese kinsoku shori / Chinese typesetting): closing punctuation
_NO_LINE_START = set("、。，．・：；？！ー）」』】〕〉》｝］〙〗’”…‥ゝゞヽヾ々.,:;?!)]}%")


def unspaced_char(char: str) -> bool:
    """A character of a script written without spaces between words."""
    return bool(char) and bool(_UNSPACED.match(char))


def separator(left: str, right: str) -> str:
    """What goes between two tokens: nothing where either side is unspaced script, else a space."""
    if not left or not right or unspaced_char(left[-1]) or unspaced_char(right[0]):
        return ""
    return " "


def join_tokens(tokens: list[str]) -> str:
    out = ""
    for token in tokens:
        out = out + separator(out, token) + token if out else token
    return out


def tokenize_text(text: str) -> list[str]:
    """Text cut where a line may break: at spaces, and between the characters of unspaced scripts
    (a character keeps its combining marks and the closing punctuation after it)."""
    tokens: list[str] = []
    for word in text.split():
        if not any(unspaced_char(c) for c in word):
            tokens.append(word)
            continue
        pieces: list[str] = []
        for char in word:
            attach = pieces and (unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Mc")
                                 or char in _NO_LINE_START or not (unspaced_char(char) or unspaced_char(pieces[-1][-1])))
            if attach:
                pieces[-1] += char
            else:
                pieces.append(char)
        tokens.extend(pieces)
    return tokens


def right_to_left(line: str) -> str:
    """LINE marked to run right to left (an RLM first), once."""
    return line if line.startswith(RLM) else RLM + line
