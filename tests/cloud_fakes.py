"""Loopback stand-ins for AssemblyAI's and Gemini's REST APIs, answering in their real response shapes.

The official SDKs are pointed at them (``VTX_ASSEMBLYAI_BASE_URL`` / ``VTX_GEMINI_BASE_URL`` =
``http://127.0.0.1:<port>``). Every request is recorded; ``fail`` queues failure modes that the next
matching requests get, in order: ``401``, ``429`` (with ``Retry-After``), ``500``, ``timeout`` (no answer
before the client gives up), ``malformed`` (a 200 whose body is not JSON), ``partial`` (an incomplete
transcript), ``job_error`` (AssemblyAI: the job ends in status ``error``); Gemini also ``503`` and ``404``
(the model is retired or unknown).
"""

from __future__ import annotations

import base64
import io
import json
import re
import threading
import time
import uuid
import wave
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Optional


@dataclass
class Seen:
    method: str
    path: str
    headers: dict
    body: bytes


@dataclass
class Reply:
    status: int = 200
    body: object = None  # dict/list -> JSON; bytes -> as is
    headers: dict = field(default_factory=dict)
    delay: float = 0.0


class FakeServer:
    def __init__(self, handle: Callable[[Seen], Reply]):
        self.handle, self.seen, self.errors = handle, [], []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                request = Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                               self.rfile.read(length) if length else b"")
                outer.seen.append(request)
                try:
                    reply = outer.handle(request)
                except Exception as e:  # a bug in the fake, not a failure mode: the tests check none happened
                    outer.errors.append(f"{type(e).__name__}: {e}")
                    reply = Reply(599, {"error": "the fake crashed"})
                time.sleep(reply.delay)
                body = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body or {}).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST = do_DELETE = _serve

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def words_of_script(script: list[tuple[str, float, float, str]]) -> list[tuple[str, float, float, str]]:
    """(speaker, start, end, text) turns -> (text, start, end, speaker) words spread by characters."""
    words = []
    for speaker, start, end, text in script:
        tokens = text.split()
        total = sum(len(t) for t in tokens) or 1
        at = start
        for token in tokens:
            length = (end - start) * len(token) / total
            words.append((token, round(at, 3), round(at + length * 0.9, 3), speaker))
            at += length
    return words


FAILURES = {
    "401": lambda: Reply(401, {"error": "Authentication error, API token missing/invalid"}),
    "429": lambda: Reply(429, {"error": "Too many requests"}, {"Retry-After": "1"}),
    "500": lambda: Reply(500, {"error": "Internal server error"}),
    "malformed": lambda: Reply(200, b"{\"id\": \"abc\", \"status\": "),
}


class FakeAssemblyAI(FakeServer):
    """POST /v2/upload, POST /v2/transcript, GET /v2/transcript/<id> (queued -> processing -> completed)."""

    def __init__(self, script: list[tuple[str, float, float, str]], duration: float):
        self.script, self.duration = script, duration
        self.fail: list[tuple[str, str]] = []  # (endpoint: upload|create|poll, mode)
        self.polls: dict[str, int] = {}
        self.timeout_s = 3.0
        super().__init__(self._answer)

    def _failure(self, endpoint: str) -> Optional[str]:
        for i, (where, mode) in enumerate(self.fail):
            if where == endpoint:
                return self.fail.pop(i)[1]
        return None

    def _answer(self, request: Seen) -> Reply:
        endpoint = ("upload" if request.path == "/v2/upload" else "create" if request.method == "POST"
                    else "poll")
        mode = self._failure(endpoint)
        if mode == "timeout":
            return Reply(200, {}, delay=self.timeout_s)
        if mode in FAILURES:
            return FAILURES[mode]()
        if endpoint == "upload":
            return Reply(200, {"upload_url": f"https://cdn.assemblyai.com/upload/{uuid.uuid4()}"})
        if endpoint == "create":
            config = json.loads(request.body)
            job = str(uuid.uuid4())
            self.polls[job] = 0
            self.config = config
            return Reply(200, {**config, "id": job, "status": "queued", "language_model": "assemblyai_default",
                               "acoustic_model": "assemblyai_default"})
        job = request.path.rsplit("/", 1)[-1]
        self.polls[job] = self.polls.get(job, 0) + 1
        if mode == "job_error":
            return Reply(200, {"id": job, "status": "error", "audio_url": "https://cdn.assemblyai.com/upload/x",
                               "error": "File does not appear to contain audio. File type is text/plain (ASCII text)."})
        if self.polls[job] < 2 and mode != "partial":
            return Reply(200, {"id": job, "status": "processing", "audio_url": "https://cdn.assemblyai.com/upload/x"})
        return Reply(200, self.completed(job, partial=mode == "partial"))

    def completed(self, job: str, partial: bool = False) -> dict:
        config = getattr(self, "config", {})
        words = words_of_script(self.script)
        labels = {}
        for _, _, _, speaker in words:
            labels.setdefault(speaker, "ABCDEFGH"[len(labels)])
        ms = lambda s: int(round(s * 1000))  # noqa: E731
        word_json = [{"text": t, "start": ms(s), "end": ms(e), "confidence": 0.93,
                      "speaker": labels[sp] if config.get("speaker_labels") else None} for t, s, e, sp in words]
        text = " ".join(t for t, *_ in words)
        if partial:
            word_json = word_json[: len(word_json) // 2]
        body = {"id": job, "status": "completed", "audio_url": "https://cdn.assemblyai.com/upload/x",
                "text": text, "words": word_json, "confidence": 0.93, "audio_duration": int(self.duration),
                "language_code": "en_us" if not config.get("language_code") else config["language_code"],
                "language_confidence": 0.9817 if config.get("language_detection") else None,
                "speech_model_used": "universal", "punctuate": True, "format_text": True,
                "utterances": None, "sentiment_analysis_results": None, "chapters": None}
        if config.get("speaker_labels"):
            body["utterances"] = [{"speaker": labels[sp], "start": ms(s), "end": ms(e), "text": tx, "confidence": 0.9,
                                   "words": [w for w in word_json if ms(s) <= w["start"] < ms(e)]}
                                  for sp, s, e, tx in self.script]
        if config.get("sentiment_analysis"):
            body["sentiment_analysis_results"] = [
                {"text": tx, "start": ms(s), "end": ms(e), "sentiment": ("POSITIVE", "NEUTRAL", "NEGATIVE")[i % 3],
                 "confidence": 0.8, "speaker": labels[sp] if config.get("speaker_labels") else None}
                for i, (sp, s, e, tx) in enumerate(self.script)]
        if config.get("auto_chapters"):
            body["chapters"] = [{"summary": "They talk.", "headline": "A conversation", "gist": "Talk",
                                 "start": ms(self.script[0][1]), "end": ms(self.script[-1][2])}]
        return body


class FakeGemini(FakeServer):
    """generateContent (inline audio or a file URI), and the Files API's resumable upload / get / delete.

    The answer holds the script's words whose middle lies in the part of the recording the prompt names
    ("from X to Y seconds"), with times relative to that part, as the response schema asks."""

    def __init__(self, script: list[tuple[str, float, float, str]]):
        self.script = script
        self.fail: list[str] = []
        self.files: dict[str, bytes] = {}
        self.sessions: dict[str, str] = {}
        self.timeout_s = 3.0
        self.answered_parts: list[tuple[float, float]] = []
        super().__init__(self._answer)

    def _answer(self, request: Seen) -> Reply:
        if request.path.startswith("/upload/"):
            session = str(uuid.uuid4())
            self.sessions[session] = "files/" + session[:12]
            return Reply(200, {}, {"x-goog-upload-url": f"{self.url}/upload-session/{session}",
                                   "x-goog-upload-status": "active"})
        if request.path.startswith("/upload-session/"):
            name = self.sessions[request.path.rsplit("/", 1)[-1]]
            self.files[name] = request.body
            file = {"name": name, "mimeType": "audio/wav", "sizeBytes": str(len(request.body)), "state": "ACTIVE",
                    "uri": f"{self.url}/v1beta/{name}"}
            return Reply(200, {"file": file}, {"x-goog-upload-status": "final"})
        if request.method == "DELETE":
            return Reply(200, {})
        mode = self.fail.pop(0) if self.fail else None
        if mode == "timeout":
            return Reply(200, {}, delay=self.timeout_s)
        if mode == "401":  # what Gemini answers for a bad key
            return Reply(400, {"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.",
                                         "status": "INVALID_ARGUMENT", "details": [
                                             {"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                                              "reason": "API_KEY_INVALID", "domain": "googleapis.com"}]}})
        if mode == "429":
            return Reply(429, {"error": {"code": 429, "message": "Resource has been exhausted (e.g. check quota).",
                                         "status": "RESOURCE_EXHAUSTED"}}, {"Retry-After": "1"})
        if mode == "500":
            return Reply(500, {"error": {"code": 500, "message": "An internal error has occurred.",
                                         "status": "INTERNAL"}})
        if mode == "503":
            return Reply(503, {"error": {"code": 503, "message": "The model is overloaded. Please try again later.",
                                         "status": "UNAVAILABLE"}})
        if mode == "404":  # what Gemini answers for a retired or unknown model
            model = request.path.split("/models/", 1)[-1].split(":", 1)[0]
            return Reply(404, {"error": {"code": 404, "message": f"models/{model} is not found for API version "
                                         "v1beta, or is not supported for generateContent.", "status": "NOT_FOUND"}})
        if mode == "malformed":
            return Reply(200, b"<html>502 Bad Gateway</html>")
        body = json.loads(request.body)
        parts = body["contents"][0]["parts"]
        prompt = " ".join(p.get("text", "") for p in parts)
        first, last = map(float, re.search(r"from ([0-9.]+) to ([0-9.]+) seconds", prompt).groups())
        audio = next(p for p in parts if "inlineData" in p or "fileData" in p)
        if "inlineData" in audio:
            data = audio["inlineData"]["data"]
            wav = base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
        else:
            data = audio["fileData"]  # the SDK sends proto JSON, which the API takes in either spelling
            wav = self.files[(data.get("fileUri") or data["file_uri"]).split("/v1beta/", 1)[1]]
        with wave.open(io.BytesIO(wav)) as w:
            seconds = w.getnframes() / w.getframerate()
        assert abs(seconds - (last - first)) < 0.05, "the audio sent is the part the prompt names"
        self.answered_parts.append((first, last))
        segments = []
        for speaker, start, end, text in self.script:
            words = [t for t, s, e, _ in words_of_script([(speaker, start, end, text)]) if first <= (s + e) / 2 < last]
            if words:
                segments.append({"start": round(max(start - first, 0), 2), "end": round(min(end, last) - first, 2),
                                 "text": " ".join(words)})
        answer = json.dumps({"language": "en", "segments": segments})
        finish = "STOP"
        if mode == "partial":
            answer, finish = answer[: len(answer) // 2], "MAX_TOKENS"
        return Reply(200, {"candidates": [{"content": {"role": "model", "parts": [{"text": answer}]},
                                           "finishReason": finish, "index": 0}],
                           "usageMetadata": {"promptTokenCount": int(32 * seconds), "candidatesTokenCount": 100,
                                             "totalTokenCount": int(32 * seconds) + 100},
                           "modelVersion": "gemini-2.5-flash"})
