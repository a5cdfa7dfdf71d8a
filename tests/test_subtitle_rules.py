"""Subtitle rules per language and script: characters for Chinese/Japanese/Thai, direction for
Arabic/Hebrew, English unchanged."""

from __future__ import annotations

import io
import subprocess

import pytest
import webvtt
from test_subtitles import realistic_document

from vtxlib.subtitle_rules import DEFAULT_RULES, RLM, RULES, join_tokens, rules_for, tokenize_text
from vtxlib.subtitles import SRTWriter, SubtitleOptions, VTTWriter, build_cues, layout_lines
from vtxlib.types import AlignedTranscript, Document, MediaInfo, Turn, Word

# Whisper's word timestamps for Chinese/Japanese/Thai are pieces of a few characters, no spaces
JAPANESE = ("今日は", "とても", "いい", "天気", "ですね。", "明日", "は", "雨が", "降る", "かも", "しれません", "が、",
            "週末", "には", "晴れる", "そう", "です。")
CHINESE = ("今天", "天气", "很好，", "我们", "一起", "去", "公园", "散步", "吧。", "明天", "可能", "会", "下雨，",
           "所以", "要", "带", "伞。")
ARABIC = ("مرحبا", "بكم", "في", "البرنامج،", "اليوم", "نتحدث", "عن", "الطقس", "في", "مدينة", "Paris", "والقاهرة.")
NO_LINE_START = set("、。，！？」』）")


def document(tokens, language, speaker="SPEAKER_00", rate=0.35, names=None) -> Document:
    words, t = [], 0.5
    for token in tokens:
        words.append(Word(text=token, start=round(t, 3), end=round(t + rate - 0.05, 3), prob=0.9, speaker=speaker))
        t += rate
    turn = Turn(speaker=speaker, start=words[0].start, end=words[-1].end, words=words)
    return Document(media=MediaInfo(id="m", title="t", source="s", duration=round(t + 2, 3)),
                    transcript=AlignedTranscript(turns=[turn], language=language), speaker_names=names or {})


@pytest.mark.parametrize("tokens, language, width", [(JAPANESE, "ja", 13), (CHINESE, "zh", 16)])
def test_cjk_cues_are_counted_and_broken_in_characters(tokens, language, width):
    doc = document(tokens, language)
    cues = build_cues(doc.transcript, SubtitleOptions(), end_limit=doc.media.duration)
    lines = [line for cue in cues for line in cue.lines]
    assert all(" " not in line for line in lines), lines  # no space that the script does not have
    assert all(len(line) <= width for line in lines), lines
    assert not any(line[0] in NO_LINE_START for line in lines), lines
    assert "".join(lines) == "".join(tokens)  # nothing lost, nothing added
    # the reading speed is the language's, in characters: no cue is held shorter than it needs
    cps = rules_for(language).max_cps
    for cue, following in zip(cues, cues[1:] + [None]):
        wanted = max(0.83, len(cue.text) / cps)
        limit = following.start if following else doc.media.duration
        assert cue.end - cue.start >= min(wanted, limit - cue.start) - 0.002


def test_japanese_vtt_lines_are_13_characters_without_spaces():
    vtt = VTTWriter().render(document(JAPANESE, "ja"))
    captions = webvtt.from_buffer(io.StringIO(vtt)).captions
    assert len(captions) >= 2
    for caption in captions:
        for line in caption.text.split("\n"):
            assert len(line) <= 13 and " " not in line, line


def test_english_layout_is_unchanged_by_the_rules():
    doc = realistic_document()
    assert rules_for("en") == rules_for(None) == DEFAULT_RULES
    assert (DEFAULT_RULES.max_line_chars, DEFAULT_RULES.max_cps) == (42, 17.0)
    assert SubtitleOptions().for_language("en") == SubtitleOptions()
    english = doc.model_copy(update={"language": "en"})
    assert VTTWriter().render(english) == VTTWriter().render(doc)
    assert RLM not in VTTWriter().render(english)
    assert layout_lines("Yesterday we went down to the harbour, and nobody was there at all".split()) == [
        "Yesterday we went down to the harbour,", "and nobody was there at all"]


def test_explicit_options_win_over_the_language_rules():
    options = SubtitleOptions(max_line_chars=20).for_language("ja")
    assert (options.max_line_chars, options.max_cps) == (20, 4.0)


def test_arabic_cues_run_right_to_left_in_vtt_and_srt():
    doc = document(ARABIC, "ar", names={"SPEAKER_00": "Sami"})
    vtt = VTTWriter(SubtitleOptions(visible_speaker="name")).render(doc)
    captions = webvtt.from_buffer(io.StringIO(vtt)).captions
    assert captions, vtt
    for caption in captions:
        lines = caption.raw_text.split("\n")
        assert lines[0].startswith("<v Sami>" + RLM), lines  # the voice tag, then the mark
        assert all(line.startswith(RLM) for line in lines[1:])
    # a line that opens with a Latin label still runs right to left
    assert captions[0].raw_text.startswith("<v Sami>" + RLM + "Sami: ")
    srt = SRTWriter().render(doc)
    text_lines = [line for line in srt.splitlines() if line and "-->" not in line and not line.isdigit()]
    assert text_lines and all(line.startswith(RLM) for line in text_lines)


@pytest.mark.tools("ffmpeg")
def test_ffmpeg_reads_the_right_to_left_vtt(tmp_path):
    doc = document(ARABIC * 2, "ar")
    path = tmp_path / "ar.vtt"
    path.write_text(VTTWriter(SubtitleOptions(emit_style_block=False)).render(doc), encoding="utf-8")
    expected = len(webvtt.read(str(path)).captions)
    out = subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(path), "-f", "srt", "-"],
                         capture_output=True, text=True, check=True).stdout
    assert out.count("-->") == expected > 0
    assert RLM in out and "مرحبا" in out


def test_hebrew_and_other_rtl_languages_are_marked_and_ltr_ones_are_not():
    assert rules_for("he").rtl and rules_for("fa").rtl and rules_for("ur").rtl and rules_for("yi").rtl
    assert not rules_for("de").rtl and not rules_for("ru").rtl and not rules_for("ja").rtl
    assert rules_for("zh-TW") == RULES["zh"] and rules_for("pt-BR") == DEFAULT_RULES
    assert not rules_for("th").spaced and not rules_for("lo").spaced and rules_for("ko").spaced


def test_every_rule_names_its_source():
    for language, rules in RULES.items():
        assert rules.source and ("Netflix" in rules.source or "English template" in rules.source), language


def test_translated_text_is_tokenised_by_script():
    assert tokenize_text("今日は、いい天気。") == ["今", "日", "は、", "い", "い", "天", "気。"]
    assert tokenize_text("iPhoneを買った") == ["iPhone", "を", "買", "っ", "た"]
    assert tokenize_text("Hello there, friend") == ["Hello", "there,", "friend"]
    thai = tokenize_text("สวัสดีครับ")
    assert "".join(thai) == "สวัสดีครับ" and all(t[0] not in "\u0e31\u0e34\u0e35\u0e48\u0e49" for t in thai)
    assert join_tokens(["今日", "は", "iPhone", "15", "を"]) == "今日はiPhone 15を"
    lines = layout_lines(tokenize_text("週末には晴れるそうです。明日は雨が降るかもしれません。"), 13, 2)
    assert all(len(line) <= 13 and " " not in line for line in lines)  # 27 characters: three lines
    assert lines[0] == "週末には晴れるそうです。" and "".join(lines[1:]) == "明日は雨が降るかもしれません。"


def test_text_file_and_report_write_chinese_without_spaces(tmp_path):
    from vtxlib.report import render_report
    from vtxlib.subtitles import TextWriter

    doc = document(CHINESE, "zh")
    assert TextWriter().render(doc).split(": ", 1)[1].strip() == "".join(CHINESE)
    page = render_report(doc)
    assert '<span class="w">今天</span><span class="w">天气</span>' in page
    english = render_report(document(("Hello", "there"), "en"))
    assert '<span class="w">Hello</span> <span class="w">there</span>' in english
