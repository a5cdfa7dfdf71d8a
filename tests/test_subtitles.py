"""Cue segmentation rules and the VTT/SRT/TXT/RTTM/JSON writers."""

import html
import io
import json
import random
import re
from pathlib import Path

import pytest
import webvtt
from needs import require

from vtxlib.subtitles import (
    Cue,
    JSONWriter,
    RTTMWriter,
    SRTWriter,
    StyledVTTWriter,
    SubtitleOptions,
    TextWriter,
    VTTWriter,
    build_cues,
    layout_lines,
    write_outputs,
)
from vtxlib.types import (
    UNKNOWN_SPEAKER,
    AlignedTranscript,
    Diarization,
    Document,
    Emotion,
    MediaInfo,
    SpeakerTurn,
    Turn,
    Word,
)

SENTENCES = [
    "Well, I think the main problem with the proposal is that nobody has measured anything.",
    "We keep guessing.",
    "If we had the numbers, we could decide in five minutes, but instead we argue every week.",
    "Right?",
    "So my suggestion is simple: run it, time it, write it down, and then we talk about it.",
    "Okay, fair enough.",
    "But who is going to do it, and when would they have the time to do it properly?",
    "I can do it tomorrow morning if someone gives me access to the staging server.",
    "That works for me.",
    "Let's also check how the old machines behave under load, because last time they were "
    "noticeably slower than the new ones in every single measurement we took.",
    "Yes.",
    "Honestly I'd rather we spend the afternoon on the documentation",
]


def realistic_document(seed=7, n_turns=40, speakers=("SPEAKER_00", "SPEAKER_01", "SPEAKER_02")):
    """A multi-speaker conversation with word timings from a plausible speaking rate.

    Each speaker has its own rate (one of them fast), sentences are separated by short pauses and
    turns by gaps that are sometimes zero (quick hand-over).
    """
    rng = random.Random(seed)
    rates = {s: (0.065, 0.055, 0.045)[k % 3] for k, s in enumerate(speakers)}  # seconds per character
    t, turns, speaker = 0.5, [], None
    for _ in range(n_turns):
        speaker = rng.choice([s for s in speakers if s != speaker])
        words = []
        for sentence in rng.sample(SENTENCES, rng.randint(1, 3)):
            for token in sentence.split():
                duration = rates[speaker] * len(token) + rng.uniform(0.03, 0.12)
                words.append(Word(text=" " + token, start=round(t, 3), end=round(t + duration, 3),
                                  prob=0.9, speaker=speaker))
                t += duration + rng.choice([0.0, 0.0, 0.03, 0.08])
            t += rng.uniform(0.15, 0.7)
        turns.append(Turn(speaker=speaker, start=words[0].start, end=words[-1].end, words=words))
        t += rng.choice([0.0, 0.1, 0.4, 1.2])
    media = MediaInfo(id="conv 1", title="Conversation", source="/tmp/conv.wav", duration=round(t + 2, 3))
    return Document(media=media, transcript=AlignedTranscript(turns=turns),
                    speaker_names={"SPEAKER_00": "Alice"})


def doc_of(*turns, names=None, duration=None):
    media = MediaInfo(id="m1", title="t", source="s", duration=duration)
    return Document(media=media, transcript=AlignedTranscript(turns=list(turns)), speaker_names=names or {})


def turn(speaker, spec, emotion=None, overlap=False):
    words = [Word(text=" " + text, start=a, end=b, prob=0.9, speaker=speaker) for text, a, b in spec]
    return Turn(speaker=speaker, start=words[0].start, end=words[-1].end, words=words,
                emotion=emotion, overlap=overlap)


def plain_lines(caption):
    """Caption lines as a viewer reads them: tags removed, entities decoded."""
    return [html.unescape(line) for line in caption.text.split("\n")]


def seconds(timestamp):
    h, m, s = timestamp.replace(",", ".").split(":")
    return int(h) * 3600 + int(m) * 60 + float(s)


@pytest.fixture(scope="module")
def conversation():
    doc = realistic_document()
    options = SubtitleOptions()
    cues = build_cues(doc.transcript, options, end_limit=doc.media.duration)
    vtt = VTTWriter(options).render(doc)
    return doc, options, cues, vtt


def test_vtt_reparses_and_matches_cues(conversation):
    doc, _, cues, vtt = conversation
    parsed = webvtt.from_string(vtt, strict=True)
    assert len(doc.transcript.words) > 500
    assert len(parsed.captions) == len(cues) > 50
    for caption, cue in zip(parsed.captions, cues):
        assert seconds(caption.start) == pytest.approx(cue.start, abs=1e-3)
        assert seconds(caption.end) == pytest.approx(cue.end, abs=1e-3)
        assert caption.voice == doc.display_name(cue.speaker)
        assert plain_lines(caption) == cue.lines


def test_line_rules_hold_on_long_transcript(conversation):
    _, options, _, vtt = conversation
    for caption in webvtt.from_string(vtt).captions:
        lines = plain_lines(caption)
        assert 1 <= len(lines) <= options.max_lines
        assert all(0 < len(line) <= options.max_line_chars for line in lines), lines


def test_cues_monotonic_non_overlapping_and_from_word_times(conversation):
    doc, options, cues, _ = conversation
    for cue in cues:
        assert cue.start < cue.end
        assert cue.start == pytest.approx(cue.words[0].start, abs=5e-4)  # never before the first word
        assert cue.end >= round(max(w.end for w in cue.words), 3) - 5e-4 or cue is cues[-1]
    for a, b in zip(cues, cues[1:]):
        assert a.end <= b.start
    assert cues[-1].end <= doc.media.duration


def test_durations_and_reading_speed_where_speech_allows(conversation):
    _, options, cues, _ = conversation
    held_back = 0
    for cue, following in zip(cues, cues[1:] + [None]):
        duration = cue.end - cue.start
        blocked = following is not None and cue.end == following.start
        single_long_word = len(cue.words) == 1
        assert duration <= options.max_duration + 1e-3 or single_long_word
        if not blocked:
            assert duration >= options.min_duration - 1e-3
            assert len(cue.text) / duration <= options.max_cps + 0.05
        else:
            held_back += 1
    # SPEAKER_00 and SPEAKER_01 speak at ordinary rates: all their cues get full reading time.
    # SPEAKER_02 talks faster than 17 characters per second, so some of theirs cannot.
    within = [len(c.text) / (c.end - c.start) <= options.max_cps + 0.05 for c in cues]
    assert all(ok for ok, c in zip(within, cues) if c.speaker != "SPEAKER_02")
    assert sum(within) >= 0.85 * len(cues)
    assert held_back < len(cues) / 2


def test_speaker_change_always_starts_a_new_cue_and_no_word_is_lost(conversation):
    doc, _, cues, _ = conversation
    for cue in cues:
        assert {w.speaker for w in cue.words} == {cue.speaker}
    cue_words = [w for c in cues for w in c.words]
    assert [(w.text, w.start) for w in cue_words] == [(w.text, w.start) for w in doc.transcript.words]
    for cue in cues:
        assert " ".join(w.text.strip() for w in cue.words) == cue.text


def test_turns_are_cut_at_sentence_ends_when_possible(conversation):
    _, _, cues, _ = conversation
    endings = [c.words[-1].text.strip()[-1] for c in cues]
    assert sum(e in ".?!," for e in endings) >= 0.8 * len(cues)


def test_short_cue_is_held_into_silence_but_not_over_next_cue():
    doc = doc_of(turn("A", [("Hi.", 1.0, 1.3)]), turn("B", [("Hello", 5.0, 5.4), ("there.", 5.4, 5.9)]),
                 turn("A", [("Oh.", 8.0, 8.2)]), turn("B", [("Yes.", 8.5, 8.8)]), duration=9.0)
    cues = build_cues(doc.transcript, SubtitleOptions(), end_limit=9.0)
    assert [(c.start, c.end) for c in cues] == [(1.0, 1.83), (5.0, 5.9), (8.0, 8.5), (8.5, 9.0)]


def test_dense_cue_is_held_for_reading_time():
    long_words = turn("A", [("Incomprehensibilities", 2.0, 2.4), ("notwithstanding,", 2.4, 2.8)])
    cues = build_cues(AlignedTranscript(turns=[long_words]))
    chars = len("Incomprehensibilities notwithstanding,")
    assert cues[0].start == 2.0
    assert cues[0].end == pytest.approx(2.0 + chars / 17, abs=1e-3)


def test_long_pause_inside_a_turn_splits_the_cue():
    t = turn("A", [("First", 0.0, 0.4), ("bit", 0.4, 0.7), ("second", 1.9, 2.3), ("bit", 2.3, 2.6)])
    cues = build_cues(AlignedTranscript(turns=[t]))
    assert [c.text for c in cues] == ["First bit", "second bit"]


def test_cue_never_exceeds_max_duration_for_slow_speech():
    spec = [(f"word{i}", i * 0.9, i * 0.9 + 0.5) for i in range(20)]  # 0.4 s gaps, slow
    cues = build_cues(AlignedTranscript(turns=[turn("A", spec)]), SubtitleOptions(max_duration=7.0))
    assert len(cues) >= 3
    assert all(c.end - c.start <= 7.0 for c in cues)


def test_lines_break_at_punctuation_and_balance():
    tokens = "Yesterday we went down to the harbour, and then we walked home slowly.".split()
    assert layout_lines(tokens) == ["Yesterday we went down to the harbour,",
                                    "and then we walked home slowly."]
    tokens = "one two three four five six seven eight nine ten eleven twelve".split()
    lines = layout_lines(tokens)
    assert len(lines) == 2 and abs(len(lines[0]) - len(lines[1])) <= 8
    assert layout_lines("short line".split()) == ["short line"]


def test_escaping_of_ampersand_and_angle_brackets():
    doc = doc_of(turn("A", [("AT&T", 0.0, 0.5), ("<b>bold</b>", 0.5, 1.0), ("x>y", 1.0, 1.4)]),
                 names={"A": "Tom & <Jerry>"})
    vtt = VTTWriter(SubtitleOptions(emit_style_block=False)).render(doc)
    body = vtt.split("\n")[3]
    assert body == "<v Tom &amp; &lt;Jerry&gt;>AT&amp;T &lt;b&gt;bold&lt;/b&gt; x&gt;y"
    caption = webvtt.from_string(vtt, strict=True).captions[0]
    assert plain_lines(caption) == ["AT&T <b>bold</b> x>y"]
    assert html.unescape(caption.voice) == "Tom & <Jerry>"


def test_emotion_and_overlap_voice_classes():
    angry = Emotion(label="Angry", scores={"angry": 0.8, "neutral": 0.2}, confidence=0.8, backend="x")
    unsure = Emotion(label="sad", scores={"sad": 0.4}, confidence=0.4, backend="x", low_confidence=True)
    doc = doc_of(turn("A", [("Stop", 0.0, 0.4), ("it!", 0.4, 0.8)], emotion=angry),
                 turn("B", [("Sorry.", 2.0, 2.5)], emotion=unsure),
                 turn("A", [("Fine.", 4.0, 4.5)], emotion=angry, overlap=True),
                 names={"A": "Alice"})
    vtt = VTTWriter(SubtitleOptions(emit_style_block=False)).render(doc)
    first_lines = [c.lines[0] for c in webvtt.from_string(vtt, strict=True).captions]
    assert first_lines == ["<v.angry Alice>Stop it!", "<v B>Sorry.", "<v.angry.overlap Alice>Fine."]
    assert [c.voice for c in webvtt.from_string(vtt).captions] == ["Alice", "B", "Alice"]
    assert "STYLE" not in vtt

    plain = VTTWriter(SubtitleOptions(emotion_classes=False, overlap_class=False)).render(doc)
    assert [c.lines[0] for c in webvtt.from_string(plain).captions] == [
        "<v Alice>Stop it!", "<v B>Sorry.", "<v Alice>Fine."]

    assert "STYLE" not in VTTWriter().render(doc)  # transcript.vtt: no STYLE block by default
    styled = webvtt.from_string(StyledVTTWriter().render(doc), strict=True)  # transcript.styled.vtt
    assert len(styled.styles) == 1 and "::cue(v.angry)" in styled.styles[0].text
    assert len(styled.captions) == 3


def test_style_block_colours_every_voice_and_styles_the_classes():
    doc = doc_of(turn("A", [("Hi", 0.0, 0.4)]), turn("B", [("Yo", 1.0, 1.4)]),
                 turn("C", [("Hey", 2.0, 2.4)]), names={"A": "Alice", "B": 'Bo "B" & Co'})
    vtt = StyledVTTWriter().render(doc)
    assert vtt == VTTWriter(SubtitleOptions(emit_style_block=True)).render(doc)
    parsed = webvtt.from_string(vtt, strict=True)
    rules = parsed.styles[0].text
    assert '::cue(v[voice="Alice"]) { color: ' in rules and '::cue(v[voice="C"]) { color: ' in rules
    assert '::cue(v[voice="Bo \\"B\\" & Co"])' in rules  # CSS-escaped quotes, the parsed voice name
    colours = re.findall(r'v\[voice=.*?\]\) \{ color: (#[0-9a-f]{6})', rules)
    assert len(colours) == 3 and len(set(colours)) == 3
    assert "::cue(v.overlap)" in rules and "text-decoration-color" in rules
    assert vtt.index("STYLE") < vtt.index("-->")  # before the first cue, as the format requires
    assert len(parsed.captions) == 3


@pytest.mark.parametrize("style, label", [("name", "Alice: "), ("chevrons", ">> ALICE: ")])
def test_visible_speaker_names_on_each_speaker_change_only(conversation, style, label):
    doc, _, plain_cues, _ = conversation
    options = SubtitleOptions(visible_speaker=style)
    parsed = webvtt.from_string(VTTWriter(options).render(doc), strict=True).captions
    labelled, previous, spoken = 0, None, []
    for caption in parsed:
        lines = plain_lines(caption)
        assert all(len(line) <= options.max_line_chars for line in lines), lines
        changed = caption.voice != previous
        shown = {"name": f"{caption.voice}: ", "chevrons": f">> {caption.voice.upper()}: "}[style]
        assert lines[0].startswith(shown) == changed, (previous, lines)
        labelled += changed and caption.voice == "Alice"
        spoken += " ".join(lines)[len(shown) if changed else 0:].split()
        previous = caption.voice
    assert labelled > 3
    assert any(c.lines[0].startswith(f"<v Alice>{html.escape(label)}") for c in parsed)
    assert spoken == [w.text.strip() for w in doc.transcript.words]  # no word lost to the labels


def test_visible_speaker_option_is_checked_and_on_by_default_for_youtube_uploads():
    from vtxlib.cli import build_parser, pipeline_options_from_args
    from vtxlib.errors import InputError
    from vtxlib.pipeline import PipelineOptions

    with pytest.raises(InputError):
        SubtitleOptions(visible_speaker="loud")
    assert PipelineOptions().subtitle_options().visible_speaker == "off"
    assert PipelineOptions(upload_video="dQw4w9WgXcQ").subtitle_options().visible_speaker == "chevrons"
    assert PipelineOptions(upload_video="x", visible_speaker="name").subtitle_options().visible_speaker == "name"
    args = build_parser().parse_args(["run", "a.wav", "--visible-speaker", "name"])
    assert pipeline_options_from_args(args).subtitle_options().visible_speaker == "name"
    unknown = doc_of(turn(UNKNOWN_SPEAKER, [("Hm", 0.0, 0.4)]), turn("A", [("Yes", 1.0, 1.4)]))
    first = webvtt.from_string(VTTWriter(SubtitleOptions(visible_speaker="chevrons")).render(unknown))
    assert [plain_lines(c)[0] for c in first.captions] == [">> Hm", ">> A: Yes"]


def test_srt_numbering_format_and_prefix(conversation):
    doc, options, _, _ = conversation
    srt = SRTWriter(options).render(doc)
    blocks = srt.strip("\n").split("\n\n")
    stamp = r"\d\d:\d\d:\d\d,\d\d\d"
    for number, block in enumerate(blocks, start=1):
        lines = block.split("\n")
        assert lines[0] == str(number)
        assert re.fullmatch(f"{stamp} --> {stamp}", lines[1])
        assert seconds(lines[1].split(" --> ")[0]) < seconds(lines[1].split(" --> ")[1])
        assert 1 <= len(lines) - 2 <= options.max_lines
        assert all(len(line) <= options.max_line_chars for line in lines[2:])  # prefix included
        assert re.match(r"(Alice|SPEAKER_01|SPEAKER_02): \S", lines[2])
    reparsed = webvtt.from_buffer(io.StringIO(srt), format="srt")
    assert len(reparsed.captions) == len(blocks)
    srt_words = " ".join(re.sub(r"^[^:]+: ", "", c.text.replace("\n", " ")) for c in reparsed.captions).split()
    assert srt_words == [w.text.strip() for w in doc.transcript.words]


def test_text_transcript_one_line_per_turn(conversation):
    doc, _, _, _ = conversation
    lines = TextWriter().render(doc).splitlines()
    assert len(lines) == len(doc.transcript.turns)
    for line, t in zip(lines, doc.transcript.turns):
        match = re.fullmatch(r"\[(\d\d):(\d\d):(\d\d)\] ([^:]+): (.+)", line)
        assert match, line
        h, m, s = map(int, match.groups()[:3])
        assert h * 3600 + m * 60 + s == int(t.start)
        assert match.group(4) == doc.display_name(t.speaker) and match.group(5) == t.text
    assert lines[0].startswith("[00:00:00] ")


def test_rttm_from_diarization_matches_pyannote_core():
    core = require("pyannote.core", extra="cpu")
    diarization = Diarization(turns=[SpeakerTurn("SPEAKER_01", 3.5, 7.25), SpeakerTurn("SPEAKER_00", 0.25, 3.5),
                                     SpeakerTurn("SPEAKER_00", 8.0, 8.0)])
    doc = doc_of(turn("SPEAKER_00", [("hi", 0.3, 0.6)]))
    doc.media.id = "m1"
    rttm = RTTMWriter(diarization=diarization).render(doc)
    rows = [line.split(" ") for line in rttm.splitlines()]
    assert len(rows) == 2  # zero-length turn dropped
    for row in rows:
        assert len(row) == 10 and row[0] == "SPEAKER" and row[1] == "m1" and row[2] == "1"
        assert row[5] == row[6] == row[8] == row[9] == "<NA>"
        float(row[3]), float(row[4])
    annotation = core.Annotation(uri="m1")
    for t in diarization.turns:
        if t.end > t.start:
            annotation[core.Segment(t.start, t.end)] = t.speaker
    expected = io.StringIO()
    annotation.write_rttm(expected)
    assert sorted(rttm.splitlines()) == sorted(expected.getvalue().splitlines())


def test_rttm_from_aligned_turns_skips_unknown(conversation):
    doc, _, _, _ = conversation
    doc = Document(media=doc.media, transcript=AlignedTranscript(
        turns=doc.transcript.turns + [turn(UNKNOWN_SPEAKER, [("echo", 999.0, 999.5)])]))
    rows = [line.split() for line in RTTMWriter().render(doc).splitlines()]
    assert len(rows) == len(doc.transcript.turns) - 1
    assert rows[0][1] == "conv_1"  # spaces are not allowed in an RTTM file id
    starts = [float(r[3]) for r in rows]
    assert starts == sorted(starts)
    assert {r[7] for r in rows} == {"SPEAKER_00", "SPEAKER_01", "SPEAKER_02"}


def rttm_rows(diarization, **options):
    doc = doc_of(turn("SPEAKER_00", [("hi", 0.3, 0.6)]))
    rendered = RTTMWriter(SubtitleOptions(**options), diarization=diarization).render(doc)
    return [(row[7], float(row[3]), round(float(row[3]) + float(row[4]), 3))
            for row in (line.split() for line in rendered.splitlines())]


def test_rttm_bridges_a_short_pause_inside_a_speakers_turn():
    pause = Diarization(turns=[SpeakerTurn("SPEAKER_00", 1.0, 2.5), SpeakerTurn("SPEAKER_00", 2.75, 4.0)])
    assert rttm_rows(pause) == [("SPEAKER_00", 1.0, 4.0)]
    assert rttm_rows(pause, rttm_pause_fill=0.0) == [("SPEAKER_00", 1.0, 2.5), ("SPEAKER_00", 2.75, 4.0)]
    # a pause as long as the fill or longer is a pause
    assert len(rttm_rows(pause, rttm_pause_fill=0.25)) == 2


def test_rttm_never_bridges_different_speakers_or_a_pause_someone_else_speaks_in():
    changes = Diarization(turns=[SpeakerTurn("SPEAKER_00", 1.0, 2.5), SpeakerTurn("SPEAKER_01", 2.6, 4.0),
                                 SpeakerTurn("SPEAKER_00", 4.1, 5.0)])
    assert rttm_rows(changes) == [("SPEAKER_00", 1.0, 2.5), ("SPEAKER_01", 2.6, 4.0), ("SPEAKER_00", 4.1, 5.0)]
    interjection = Diarization(turns=[SpeakerTurn("SPEAKER_00", 1.0, 2.5), SpeakerTurn("SPEAKER_01", 2.55, 2.7),
                                      SpeakerTurn("SPEAKER_00", 2.75, 4.0)])
    assert len(rttm_rows(interjection)) == 3
    assert len(rttm_rows(Diarization(turns=[t for t in interjection.turns if t.speaker == "SPEAKER_00"]))) == 1


def test_rttm_bridges_the_turns_with_overlap_and_leaves_the_word_turns_alone(tmp_path):
    speech = [SpeakerTurn("SPEAKER_00", 0.0, 2.0), SpeakerTurn("SPEAKER_01", 1.5, 3.0),
              SpeakerTurn("SPEAKER_01", 3.2, 5.0), SpeakerTurn("SPEAKER_00", 4.5, 6.0), SpeakerTurn("SPEAKER_00", 6.2, 7.0)]
    diarization = Diarization(turns=speech, speech_turns=speech, overlaps=[(1.5, 2.0), (4.5, 5.0)])
    assert rttm_rows(diarization) == [("SPEAKER_00", 0.0, 2.0), ("SPEAKER_01", 1.5, 5.0), ("SPEAKER_00", 4.5, 7.0)]
    doc = doc_of(turn("SPEAKER_00", [("one", 0.1, 0.5)]), turn("SPEAKER_01", [("two", 3.3, 3.6)]),
                 turn("SPEAKER_00", [("three", 6.3, 6.6)]))
    paths = write_outputs(doc, tmp_path, diarization=diarization)
    assert len(json.loads(paths["json"].read_text())["turns"]) == 3


def test_json_is_document_dict(conversation):
    doc, _, _, _ = conversation
    data = json.loads(JSONWriter().render(doc))
    expected = doc.model_dump(mode="json")
    assert data["media"].pop("source") == "conv.wav" and expected["media"].pop("source") == "/tmp/conv.wav"
    assert data == expected
    assert data["schema_version"] == 2 and "words" not in data
    assert [w["text"] for t in data["turns"] for w in t["words"]] == [w.text for w in doc.transcript.words]


@pytest.mark.parametrize("source, shown", [("/home/ann/private/talk.mp4", "talk.mp4"),
                                           ("https://user:pw@example.org/v/talk.mp4", "https://example.org/v/talk.mp4"),
                                           ("https://youtu.be/dQw4w9WgXcQ", "https://youtu.be/dQw4w9WgXcQ")])
def test_json_names_the_source_without_the_machines_folders_or_credentials(source, shown):
    doc = doc_of(turn("A", [("Hi", 0.0, 0.4)]))
    doc.media.source = source
    rendered = JSONWriter().render(doc)
    assert json.loads(rendered)["media"]["source"] == shown
    assert "private" not in rendered and "pw@" not in rendered


def test_empty_transcript_gives_valid_empty_outputs(tmp_path):
    doc = doc_of(duration=3.0)
    vtt = VTTWriter().render(doc)
    assert vtt.startswith("WEBVTT")
    assert webvtt.from_string(vtt, strict=True).captions == []
    assert SRTWriter().render(doc) == "" and TextWriter().render(doc) == "" and RTTMWriter().render(doc) == ""
    paths = write_outputs(doc, tmp_path)
    assert webvtt.read(str(paths["vtt"])).captions == []


def test_write_outputs_writes_six_files_atomically(tmp_path, conversation):
    doc, options, _, vtt = conversation
    diarization = Diarization(turns=[SpeakerTurn("SPEAKER_00", 0.0, 5.0)])
    paths = write_outputs(doc, tmp_path / "out", diarization=diarization, options=options)
    assert sorted(paths) == ["json", "rttm", "srt", "styled.vtt", "txt", "vtt"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "transcript.json", "transcript.rttm", "transcript.srt", "transcript.styled.vtt", "transcript.txt",
        "transcript.vtt"]
    assert "STYLE" in paths["styled.vtt"].read_text(encoding="utf-8")
    assert paths["vtt"].read_text(encoding="utf-8") == vtt
    assert paths["rttm"].read_text().split()[7] == "SPEAKER_00"
    assert len(paths["rttm"].read_text().splitlines()) == 1
    assert len(webvtt.read(str(paths["vtt"])).captions) == len(webvtt.from_string(vtt).captions)


def test_cue_dataclass_text_joins_lines():
    assert Cue(0.0, 1.0, "A", ["one two", "three"]).text == "one two three"


def test_notebook_upload_sends_a_vtt_with_visible_names_by_default(tmp_path):
    from types import SimpleNamespace

    from vtxlib.notebook import upload_captions

    doc = doc_of(turn("A", [("Hi", 0.0, 0.4)]), turn("B", [("Yo", 1.0, 1.4)]), names={"A": "Alice"})
    vtt = tmp_path / "out" / "transcript.vtt"
    vtt.parent.mkdir()
    vtt.write_text(VTTWriter().render(doc), encoding="utf-8")
    result = SimpleNamespace(outputs={"vtt": str(vtt)}, document=doc, media=doc.media)
    sent = upload_captions(result, video_id="dQw4w9WgXcQ", dry_run=True, workspace=str(tmp_path / "ws"))
    request = json.loads(Path(sent.results[0].request_path).read_text())  # the original: the only track here
    uploaded = Path(request["media"]["path"])
    assert uploaded.name == "youtube.transcript.vtt"
    assert [plain_lines(c)[0] for c in webvtt.read(str(uploaded)).captions] == [">> ALICE: Hi", ">> B: Yo"]
    assert "ALICE" not in vtt.read_text()  # transcript.vtt itself is unchanged
    plain = upload_captions(result, video_id="dQw4w9WgXcQ", dry_run=True, workspace=str(tmp_path / "ws"),
                            visible_speaker="off")
    assert Path(json.loads(Path(plain.results[0].request_path).read_text())["media"]["path"]) == vtt


# -- real readers ------------------------------------------------------------------------------

needs_ffmpeg = pytest.mark.tools("ffmpeg", "ffprobe")


def ffprobe_cue_count(path: Path) -> int:
    """Cues with text in PATH's first subtitle stream, as ffmpeg reads them back (an MP4 text track
    also has empty samples filling the gaps between cues; those are not cues)."""
    import subprocess

    probe = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "s:0", "-show_entries", "stream=index",
                            "-of", "csv=p=0", str(path)], capture_output=True, text=True, check=True).stdout
    if not probe.strip():
        return 0
    srt = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-map", "0:s:0", "-f", "srt", "-"],
                         capture_output=True, text=True, check=True).stdout
    blocks = [b.strip().splitlines() for b in srt.strip().split("\n\n") if "-->" in b]
    return sum(1 for lines in blocks if any(line.strip() for line in lines[2:]))


def mux(subtitles: Path, container: str, tmp_path: Path) -> Path:
    """SUBTITLES muxed by the system ffmpeg beside a silent audio track into a CONTAINER file."""
    import subprocess

    codec = {"mp4": "mov_text", "mkv": "srt" if subtitles.suffix == ".srt" else "webvtt"}[container]
    target = tmp_path / f"{subtitles.name}.{container}"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono",
                    "-i", str(subtitles), "-map", "0:a", "-map", "1:s", "-c:a", "aac", "-c:s", codec,
                    "-t", "400", str(target)], check=True, capture_output=True)
    return target


@needs_ffmpeg
@pytest.mark.parametrize("container", ["mkv", "mp4"])
@pytest.mark.parametrize("name", ["transcript.vtt", "transcript.srt"])
def test_system_ffmpeg_muxes_every_cue(tmp_path, container, name):
    """ffmpeg 5.1 (Debian 12) reads no cue after a STYLE block: the default VTT must have none."""
    doc = realistic_document(n_turns=24)
    doc.speaker_names["SPEAKER_01"] = "Tom & <Jerry>"
    write_outputs(doc, tmp_path / "out")
    path = tmp_path / "out" / name
    expected = len((webvtt.read if name.endswith(".vtt") else webvtt.from_srt)(str(path)).captions)
    assert expected > 40
    assert ffprobe_cue_count(path) == expected  # read directly
    assert ffprobe_cue_count(mux(path, container, tmp_path)) == expected
