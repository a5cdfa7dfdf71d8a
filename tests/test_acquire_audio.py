"""acquire + audio: ids, caching, and the clear errors promised for bad input."""

import math
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest
from needs import require

from vtxlib.acquire import acquire, explain_download_error, is_url
from vtxlib.audio import decode, is_silent, load_audio
from vtxlib.errors import InputError, StageFailed
from vtxlib.workspace import Workspace


def _tone_wav(path: Path, seconds=1.0, rate=44100, channels=2) -> Path:
    t = np.arange(int(seconds * rate)) / rate
    tone = (0.3 * np.sin(2 * math.pi * 440 * t) * 32767).astype("<i2")
    frames = np.repeat(tone[:, None], channels, axis=1)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames.tobytes())
    return path


@pytest.fixture
def ws(tmp_path):
    return Workspace(tmp_path / "ws")


def test_local_file_gets_content_hash_id_and_same_content_same_id(tmp_path, ws):
    a = _tone_wav(tmp_path / "a.wav")
    b = tmp_path / "copy of a.wav"
    b.write_bytes(a.read_bytes())
    info_a, info_b = acquire(str(a), ws), acquire(str(b), ws)
    assert info_a.id == info_b.id and info_a.id.startswith("f-")
    assert info_a.kind == "file" and info_a.title == "a"
    c = _tone_wav(tmp_path / "c.wav", seconds=2.0)
    assert acquire(str(c), ws).id != info_a.id


def test_decode_gives_16k_mono_pcm(tmp_path, ws):
    src = _tone_wav(tmp_path / "stereo44k.wav", seconds=1.5)
    audio = decode(src, ws.audio_path("x"), None)
    with wave.open(audio.path) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16000, 1, 2)
    assert audio.duration == pytest.approx(1.5, abs=0.01)
    samples = load_audio(audio.path)
    assert samples.dtype == np.float32 and len(samples) == pytest.approx(24000, abs=20)
    assert not is_silent(samples)
    assert load_audio(audio.path, 0.5, 1.0).shape[0] == 8000


def test_decode_video_with_audio(tmp_path, ws):
    video = tmp_path / "clip.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=64x64:rate=5",
                    "-f", "lavfi", "-i", "sine=frequency=300:sample_rate=22050", "-t", "1", "-shortest",
                    "-c:v", "mpeg4", "-c:a", "aac", str(video)], check=True)
    audio = decode(video, ws.audio_path("v"))
    assert audio.sample_rate == 16000 and 0.9 < audio.duration < 1.2
    samples = load_audio(audio.path)
    peak_hz = np.argmax(np.abs(np.fft.rfft(samples))) * 16000 / len(samples)
    assert peak_hz == pytest.approx(300, abs=5)  # the sine of the audio stream, resampled to 16 kHz


def test_file_not_found(ws):
    with pytest.raises(InputError, match="file not found.*expected an http"):
        acquire("/no/such/file.mp4", ws)


def test_empty_file(tmp_path, ws):
    empty = tmp_path / "empty.mp4"
    empty.touch()
    with pytest.raises(InputError, match="empty \\(0 bytes\\)"):
        acquire(str(empty), ws)


def test_folder_is_refused(tmp_path, ws):
    with pytest.raises(InputError, match="is a folder"):
        acquire(str(tmp_path), ws)


def test_not_a_media_file(tmp_path, ws):
    text = tmp_path / "notes.mp3"
    text.write_text("this is not audio at all\n" * 50)
    with pytest.raises(InputError, match="not a media file ffmpeg can read"):
        decode(text, ws.audio_path("t"))


def test_truncated_media_file(tmp_path, ws):
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(200))  # an mp4 header and nothing else
    with pytest.raises(InputError, match="not a media file|could not decode"):
        decode(truncated, ws.audio_path("c"))


def test_video_without_audio_stream(tmp_path, ws):
    video = tmp_path / "silent_video.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=64x64:rate=5",
                    "-t", "1", "-c:v", "mpeg4", str(video)], check=True)
    with pytest.raises(InputError, match="has no audio stream.*video"):
        decode(video, ws.audio_path("n"))


def test_failed_decode_leaves_no_partial_file(tmp_path, ws):
    text = tmp_path / "bad.wav"
    text.write_text("nope")
    target = ws.audio_path("p")
    with pytest.raises(InputError):
        decode(text, target)
    assert not target.exists()
    assert list(target.parent.iterdir()) == []


def test_silence_detection():
    assert is_silent(np.zeros(16000, dtype=np.float32))
    assert is_silent(np.array([], dtype=np.float32))


def test_url_detection():
    assert is_url("https://www.youtube.com/watch?v=abc") and is_url("HTTP://x.y")
    assert not is_url("/content/drive/MyDrive/video.mp4") and not is_url("video.mp4")


@pytest.mark.parametrize("message, expected", [
    ("ERROR: [youtube] x: Unable to download API page: HTTPSConnection(host='www.youtube.com', port=443): "
     "Failed to resolve 'www.youtube.com' ([Errno -2] Name or service not known)", "no network connection"),
    ("ERROR: [youtube] abc: Private video. Sign in if you've been granted access", "private"),
    ("ERROR: [youtube] abc: Video unavailable. This video has been removed by the uploader", "unavailable"),
    ("ERROR: [youtube] abc: The uploader has not made this video available in your country", "geo-blocked"),
    ("ERROR: Unsupported URL: https://example.com/page", "unsupported URL"),
])
def test_download_errors_name_the_cause(message, expected):
    assert expected in explain_download_error(message)


def test_url_without_network_is_one_clear_error(ws):
    # This machine has no route to video sites: yt-dlp fails fast and we report the cause.
    with pytest.raises(StageFailed, match="could not download .*(no network|unreachable|not found)"):
        acquire("https://www.youtube.com/watch?v=dQw4w9WgXcQ", ws)


# -- URLs: ids from the whole link, re-download on force, one-line errors ---------------------------

def _wav_bytes(tmp_path: Path, name: str, seconds: float) -> bytes:
    return _tone_wav(tmp_path / name, seconds=seconds, rate=16000, channels=1).read_bytes()


def test_plain_file_urls_with_one_base_name_do_not_share_a_cache_entry(tmp_path, ws):
    from local_http import LocalServer

    first, second = _wav_bytes(tmp_path, "a.wav", 0.5), _wav_bytes(tmp_path, "b.wav", 1.0)
    routes = {"/talk.wav": (200, {"Content-Type": "audio/wav"}, first),
              "/other/talk.wav": (200, {"Content-Type": "audio/wav"}, second)}
    with LocalServer(routes) as server:
        a = acquire(server.url("/talk.wav"), ws)
        b = acquire(server.url("/other/talk.wav"), ws)
        assert a.id != b.id and "talk" in a.id and "talk" in b.id
        assert Path(a.path).read_bytes() == first and Path(b.path).read_bytes() == second
        assert acquire(server.url("/talk.wav"), ws).id == a.id  # the same link is the same entry
        before = len(server.hits)
        again = acquire(server.url("/talk.wav"), ws)
        assert len(server.hits) == before  # cached: no request at all
        routes["/talk.wav"] = (200, {"Content-Type": "audio/wav"}, second)
        forced = acquire(server.url("/talk.wav"), ws, force=True)
        assert len(server.hits) > before and forced.id == again.id
        assert Path(forced.path).read_bytes() == second  # downloaded again, not the cached copy


@pytest.mark.parametrize("source, expected", [
    ("ftp://example.com/talk.mp4", "unsupported scheme \\(expected http or https or a local file\\)"),
    ("http://", "invalid URL.*names no host"),
    ("http://[::1", "invalid URL"),
    ("http://127.0.0.1:99999/x.wav", "invalid URL.*[Pp]ort"),
    ("http://user:secret@example.com/x.wav", "user name or password"),
])
def test_malformed_links_are_one_line_input_errors(ws, source, expected):
    with pytest.raises(InputError, match=expected) as caught:
        acquire(source, ws)
    assert "\n" not in str(caught.value) and "secret" not in str(caught.value)


# -- truncated media and a full disk while decoding --------------------------------------------------

def test_a_truncated_wav_warns_with_the_promised_and_decoded_length(tmp_path, ws, caplog):
    full = _tone_wav(tmp_path / "full.wav", seconds=30.0, rate=16000, channels=1)
    cut = tmp_path / "cut.wav"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])  # the header still promises 30 s
    with caplog.at_level("WARNING", logger="vtxlib.audio"):
        audio = decode(cut, ws.audio_path("cut"))
    assert audio.duration == pytest.approx(15.0, abs=0.1)
    assert "truncated" in caplog.text and "30.0 s" in caplog.text and "15.0 s" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="vtxlib.audio"):
        decode(full, ws.audio_path("full"))
    assert "truncated" not in caplog.text


def test_an_mp4_cut_in_half_warns_or_names_the_truncation(tmp_path, ws, caplog):
    for flags, name in ((["-movflags", "+faststart"], "indexed"), ([], "plain")):
        video = tmp_path / f"{name}.mp4"
        subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=64x64:rate=5",
                        "-f", "lavfi", "-i", "sine=frequency=300:sample_rate=22050", "-t", "20", "-c:v", "mpeg4",
                        "-c:a", "aac", *flags, str(video)], check=True)
        half = tmp_path / f"{name}-half.mp4"
        half.write_bytes(video.read_bytes()[: video.stat().st_size // 2])
        if name == "indexed":  # the index survives: decodes part, warns with both lengths
            with caplog.at_level("WARNING", logger="vtxlib.audio"):
                audio = decode(half, ws.audio_path(name))
            assert audio.duration < 15 and "truncated" in caplog.text and "20.0 s" in caplog.text
        else:  # the index was at the end: nothing to decode, and the message says why
            with pytest.raises(InputError, match="truncated"):
                decode(half, ws.audio_path(name))


def test_a_full_disk_while_decoding_is_not_blamed_on_the_file(tmp_path, ws, monkeypatch):
    import errno

    from vtxlib import audio as audio_module

    src = _tone_wav(tmp_path / "fine.wav", seconds=1.0)
    real_run = subprocess.run

    def full_disk(cmd, *args, **kwargs):
        if Path(cmd[0]).name == "ffmpeg":
            return subprocess.CompletedProcess(cmd, 1, "", "Error writing trailer: No space left on device\n")
        return real_run(cmd, *args, **kwargs)

    monkeypatch.setattr(audio_module.subprocess, "run", full_disk)
    with pytest.raises(OSError) as caught:
        decode(src, ws.audio_path("full"))
    assert caught.value.errno == errno.ENOSPC and not isinstance(caught.value, InputError)


def test_load_audio_reads_any_wav_subtype_the_same(tmp_path):
    """One reader (soundfile): a float or 24-bit wav reads like the 16-bit one, sliced the same."""
    import soundfile as sf

    from vtxlib.audio import load_audio, read_info, write_wav

    t = np.arange(32000) / 16000
    pcm16 = write_wav(tmp_path / "pcm16.wav", 0.5 * np.sin(2 * np.pi * 440 * t))
    reference = load_audio(pcm16, 0.5, 1.5)
    assert reference.dtype == np.float32 and reference.size == 16000
    for subtype in ("FLOAT", "PCM_24"):
        other = tmp_path / f"{subtype}.wav"
        sf.write(other, sf.read(pcm16, dtype="float32")[0], 16000, subtype=subtype)
        assert read_info(other).duration == pytest.approx(2.0)
        np.testing.assert_allclose(load_audio(other, 0.5, 1.5), reference, atol=1e-4)
# -- YouTube from Colab: cookies, the bot check, yt-dlp's warnings (a stubbed extractor, no network) ----
BOT_CHECK = ("ERROR: [youtube] dQw4w9WgXcQ: Sign in to confirm you\u2019re not a bot. Use --cookies-from-browser "
             "or --cookies for the authentication. See  https://github.com/yt-dlp/yt-dlp/wiki/FAQ for how to "
             "manually pass cookies.")


def _cookies(path: Path) -> Path:
    path.write_text("# Netscape HTTP Cookie File\n.youtube.com\tTRUE\t/\tTRUE\t2147483647\tSID\tabc123\n")
    return path


def test_a_cookies_file_reaches_yt_dlp_and_the_bot_check_is_one_line_of_advice(tmp_path, ws, monkeypatch):
    yt_dlp = require("yt_dlp", extra="cpu")
    from vtxlib.acquire import AcquireOptions

    seen = {}

    def bot_check(self, url, download=True, **kwargs):
        seen["params"] = self.params.get("cookiefile")
        seen["cookies"] = {c.name: c.value for c in self.cookiejar}
        raise yt_dlp.utils.DownloadError(BOT_CHECK)

    monkeypatch.setattr(yt_dlp.YoutubeDL, "extract_info", bot_check)
    cookies = _cookies(tmp_path / "cookies.txt")
    with pytest.raises(StageFailed) as caught:
        acquire("https://www.youtube.com/watch?v=dQw4w9WgXcQ", ws, AcquireOptions(cookies=str(cookies)))
    assert seen == {"params": str(cookies), "cookies": {"SID": "abc123"}}  # yt-dlp read the file
    message = str(caught.value)
    assert "\n" not in message and "not a bot" in message and "--cookies FILE" in message
    assert "cookies.txt" in message and "COOKIES" in message
    with pytest.raises(InputError, match="cookies file .*missing.txt not found"):
        acquire("https://www.youtube.com/watch?v=dQw4w9WgXcQ", ws,
                AcquireOptions(cookies=str(tmp_path / "missing.txt")))


def test_cookies_stored_with_the_secrets_are_used_without_the_option(tmp_path, ws):
    from vtxlib.pipeline import Pipeline, PipelineOptions

    pipeline = Pipeline(ws, PipelineOptions())
    assert pipeline._cookies_file() is None
    stored = _cookies(ws.secrets_dir / "cookies.txt")
    assert pipeline._cookies_file() == str(stored)
    given = _cookies(tmp_path / "mine.txt")
    assert Pipeline(ws, PipelineOptions(cookies=str(given)))._cookies_file() == str(given)


def test_cli_takes_cookies():
    from vtxlib.cli import build_parser, pipeline_options_from_args

    args = build_parser().parse_args(["run", "https://www.youtube.com/watch?v=dQw4w9WgXcQ", "--cookies", "c.txt"])
    assert pipeline_options_from_args(args).cookies == "c.txt"


def test_yt_dlp_warnings_are_not_hidden(caplog):
    yt_dlp = require("yt_dlp", extra="cpu")
    from vtxlib.acquire import AcquireOptions, _ydl_params

    with caplog.at_level("WARNING", logger="vtxlib.acquire"):
        with yt_dlp.YoutubeDL(_ydl_params(AcquireOptions())) as ydl:
            ydl.report_warning("No supported JavaScript runtime could be found")
    assert [r.getMessage() for r in caplog.records] == ["yt-dlp: No supported JavaScript runtime could be found"]
