"""Tables and notes that show one stage's result in a notebook (media, transcript, speakers,
emotions, enhancement, voice matches)."""

from __future__ import annotations

from typing import Any

from .display import show_markdown, show_table


def show_media(result) -> None:
    media, audio = result.media, result.audio
    rows = [("media id", media.id), ("title", media.title), ("source", media.source)]
    if audio is not None:
        rows += [("audio", audio.path), ("duration", f"{audio.duration:.1f} s")]
    show_table(["", ""], rows)


def show_segments(transcript, limit: int = 12) -> None:
    rows = [(f"{s.start:7.2f}", f"{s.end:7.2f}", s.text.strip()) for s in transcript.segments[:limit]]
    show_table(["start", "end", "text"], rows,
               caption=f"{len(transcript.segments)} segments, {len(transcript.words)} words "
                       f"({transcript.backend} {transcript.model})")


def language_rows(detection) -> list[tuple]:
    """The language stage's result as table rows: how the language was found, the most probable
    languages, each language's share of the speech and where it was heard."""
    from ..language import how_found

    if detection is None:
        return [("language", "not identified (the transcript's backend chose it)")]
    if detection.source == "forced":
        return [("language", f"{detection.language} (forced)")]
    rows = [("language", f"{detection.language} ({how_found(detection)})"),
            ("most probable", ", ".join(f"{lang} {p:.2f}" for lang, p in list(detection.probabilities.items())[:5])),
            ("share of the speech", ", ".join(f"{lang} {share:.0%}" for lang, share in detection.shares.items()))]
    if len(detection.spans) > 1:
        rows.append(("spans", ", ".join(f"{span.language} {span.start:.1f}-{span.end:.1f} s" for span in detection.spans)))
    if detection.acoustic_language and detection.acoustic_language != detection.language:
        rows.append(("chosen by decoding", f"the sound alone said {detection.acoustic_language}"))
    return rows


def show_language(detection) -> None:
    """The language stage's result, and its warning line in bold where it warned (unsure, or a second
    language heard), so the notebook says what the log said."""
    from ..language import warns

    show_table(["", ""], language_rows(detection), caption="spoken language")
    if warns(detection):
        show_markdown(f"**{detection.note}** (the `LANGUAGE` field above forces one)")


def speaker_seconds(diarization) -> dict[str, float]:
    totals: dict[str, float] = {}
    for turn in diarization.turns:
        totals[turn.speaker] = totals.get(turn.speaker, 0.0) + (turn.end - turn.start)
    return {s: round(v, 2) for s, v in sorted(totals.items())}


def show_speakers(diarization) -> None:
    counts: dict[str, int] = {}
    for turn in diarization.turns:
        counts[turn.speaker] = counts.get(turn.speaker, 0) + 1
    rows = [(s, counts[s], f"{sec:.1f}") for s, sec in speaker_seconds(diarization).items()]
    show_table(["speaker", "turns", "seconds"], rows,
               caption=f"{len(rows)} speakers, {len(diarization.overlaps)} overlap regions ({diarization.backend})")


def show_turns(document, limit: int = 20) -> None:
    rows = [(f"{turn.start:7.2f}", f"{turn.end:7.2f}", document.display_name(turn.speaker),
             _emotion_text(turn.emotion), turn.text) for turn in document.transcript.turns[:limit]]
    show_table(["start", "end", "speaker", "emotion", "text"], rows,
               caption=f"first {len(rows)} of {len(document.transcript.turns)} turns")


def _emotion_text(emotion) -> str:
    if not emotion:
        return ""
    return emotion.label + (" (low confidence)" if emotion.low_confidence else "")


def emotion_counts(document) -> dict[str, int]:
    counts: dict[str, int] = {}
    for turn in document.transcript.turns:
        label = turn.emotion.label if turn.emotion else "none"
        counts[label] = counts.get(label, 0) + 1
    return dict(sorted(counts.items()))


def suggested_names(document) -> dict:
    """Names 07_enhance suggested (speaker -> SuggestedName); never applied by itself."""
    extras = document.extras.enhance
    return dict(extras.suggested_speaker_names) if extras is not None else {}


def show_suggested_names(document) -> dict:
    names = suggested_names(document)
    if names:
        show_table(["speaker", "suggested name", "evidence"],
                   [(s, v.name, v.evidence) for s, v in sorted(names.items())],
                   caption="suggested by 07_enhance; tick APPLY_SUGGESTED_NAMES to use them")
    else:
        show_markdown("No suggested names (07_enhance did not run or found no names in the transcript).")
    return names


def show_enhancement(document) -> bool:
    """Show the summary, chapters and suggested names of 07_enhance; False when it did not run."""
    record = document.stages.get("enhance")
    if record is not None and record.incomplete:
        show_markdown(f"**Enhancement incomplete:** {record.incomplete}. It was not cached: run this cell "
                      f"again to retry.")
    extras = document.extras.enhance
    if extras is None:
        show_markdown("Not enhanced: no Gemini key, or ENHANCE is off. The transcript is unchanged.")
        return False
    if extras.summary is not None:
        show_markdown(f"**Summary.** {extras.summary.overall}")
    if extras.chapters_text:
        show_markdown("**Chapters** (paste into the video description):\n\n```\n" + extras.chapters_text + "\n```")
    stats = extras.stats
    show_markdown(f"punctuation: {stats.chunks_ok}/{stats.chunks} chunks corrected, "
                  f"{stats.words_changed} words changed")
    show_suggested_names(document)
    return True


def show_voice_matches(document) -> list[dict]:
    """The ``--voices`` matches of DOCUMENT as a table (speaker, shown as, enrolled voice, score,
    matched) and returned as rows; a note instead when no voices were given."""
    from ..voices import voice_match_table

    rows = voice_match_table(document)
    if not rows:
        show_markdown("No voice matches: set VOICES to a folder with one clip per person "
                      "(`Alice.wav`, `Bob Smith.mp3`) or a folder of clips per person.")
        return rows
    threshold = next((m.threshold for m in document.voice_matches if m.threshold is not None), None)
    show_table(list(rows[0]), [tuple(_cell(v) for v in r.values()) for r in rows],
               caption=f"cosine similarity of each speaker to the enrolled voice assigned to it; named at "
                       f">= {threshold}. Names typed in SPEAKER_NAMES take precedence.")
    return rows


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    return f"{value:.3f}" if isinstance(value, float) else value
