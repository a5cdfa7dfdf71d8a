"""Batches on Ray (``--engine ray``): resource requests, engine options, failure isolation in the
worker, and a real local Ray cluster with two workers killed mid-batch (SIGKILL) and resumed."""

from __future__ import annotations

import argparse
import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from needs import require
from test_batch import language_label

from vtxlib.batch_cli import add_parser
from vtxlib.batch_ray import (
    RayOptions,
    SourceWorker,
    check_engine_arguments,
    check_reachable,
    gpus_per_task,
    import_ray,
    read_stage_log,
    worker_count,
)
from vtxlib.errors import InputError, VtxError
from vtxlib.pipeline import PipelineOptions
from vtxlib.workspace import Workspace

ROOT = Path(__file__).resolve().parents[1]
CACHED_STAGES = ("audio", "speech", "language", "asr", "diarize", "align", "emotion")  # acquire and subtitles run every time


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["batch", "videos.txt", *argv])


# -- without a cluster -----------------------------------------------------------------------------
def test_gpu_request_follows_the_selected_backends():
    cpu = PipelineOptions(asr="whisper-cpu", diarizer="embedded", emotion="embedded")
    assert gpus_per_task(cpu, None, cluster_gpus=8) == 0
    assert gpus_per_task(PipelineOptions(asr="nemo", diarizer="embedded", emotion="off"), None, 0) == 1
    assert gpus_per_task(PipelineOptions(asr="whisper-cpu", diarizer="embedded", emotion="speechbrain"), None, 0) == 1
    auto = PipelineOptions()  # auto picks the GPU tier where the cluster has GPUs
    assert gpus_per_task(auto, None, cluster_gpus=0) == 0 and gpus_per_task(auto, None, cluster_gpus=2) == 1
    assert gpus_per_task(cpu, 0.5, cluster_gpus=0) == 0.5  # asked for explicitly


def test_worker_count_fits_the_cluster_and_the_sources():
    resources = {"CPU": 16.0, "GPU": 4.0}
    assert worker_count(None, 100, cpus=1, gpus=1, resources=resources) == 4
    assert worker_count(None, 100, cpus=1, gpus=0.5, resources=resources) == 8
    assert worker_count(None, 100, cpus=2, gpus=0, resources=resources) == 8
    assert worker_count(None, 3, cpus=1, gpus=0, resources=resources) == 3
    assert worker_count(2, 100, cpus=1, gpus=1, resources=resources) == 2


def test_engine_options_are_refused_where_they_would_be_ignored():
    args = _parse("--engine", "ray", "--ray-address", "10.0.0.5:6379", "--gpus-per-task", "0.5", "--workers", "3")
    assert (args.engine, args.ray_address, args.gpus_per_task, args.workers) == ("ray", "10.0.0.5:6379", 0.5, 3)
    defaults = {"kernel": "batch", "param": []}
    check_engine_arguments(args, defaults)
    with pytest.raises(InputError, match="--kernel"):
        check_engine_arguments(_parse("--engine", "ray", "--kernel", "notebook"), defaults)
    with pytest.raises(InputError, match="--ray-address.*only with --engine ray"):
        check_engine_arguments(_parse("--ray-address", "10.0.0.5:6379"), defaults)
    assert _parse().engine == "local"
    with pytest.raises(InputError, match="--workers 0"):
        RayOptions(workers=0)


def test_an_address_where_nothing_listens_is_refused_at_once():
    import socket

    with socket.socket() as probe:  # a port that was free a moment ago
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(InputError, match=f"no Ray cluster answers at 127.0.0.1:{port}"):
        check_reachable(f"127.0.0.1:{port}")
    assert time.monotonic() - started < 5
    check_reachable("auto")  # left to Ray


def test_missing_ray_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    with pytest.raises(VtxError, match=r"vtxlib\[ray\]"):
        import_ray(local=False)


def test_worker_reports_a_bad_source_and_keeps_going(tmp_path, monkeypatch):
    for name in ("HF_HOME", "NEMO_CACHE_DIR", "TORCH_HOME"):  # a Pipeline points unset caches at its workspace
        monkeypatch.setenv(name, str(tmp_path / name))
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF this is not audio at all" * 50)
    worker = SourceWorker(str(tmp_path / "ws"), PipelineOptions(emotion="off"))
    first = worker.run(str(bad), str(tmp_path / "one"))
    second = worker.run(str(tmp_path / "missing.wav"), str(tmp_path / "two"))
    assert first["status"] == "failed" and first["error"].startswith("audio: InputError:")
    assert "broken.wav" in first["error"]
    assert second["status"] == "failed" and "missing.wav" in second["error"]
    log = read_stage_log(tmp_path / "two")
    assert log[-1]["event"] == "end" and log[-1]["sources_run"] == 2 and log[-1]["pid"] == os.getpid()


class _FakeRay:
    """Just enough of ray for the pool: actors answer at once; a source named "crash" kills its actor."""

    class exceptions:
        class RayError(Exception):
            pass

        class RayActorError(RayError):
            pass

    def __init__(self):
        self.spawned, self.killed = [], []

    def remote(self, cls):
        ray = self

        class Handle:
            def options(self, **resources):
                ray.resources = resources
                return self

            def remote(self, *args):
                actor = SimpleNamespace(run=SimpleNamespace(remote=lambda source, folder: (folder, source)))
                ray.spawned.append(actor)
                return actor

        return Handle()

    def wait(self, refs, num_returns=1):
        return refs[:1], refs[1:]

    def get(self, ref):
        folder, source = ref
        if "crash" in source:
            raise self.exceptions.RayActorError("The actor died unexpectedly before finishing this task.")
        return {"status": "done", "speakers": 2, "words": 7, "language": "en", "media_id": "m", "duration": 3.0,
                "worker": "h:1"}

    def kill(self, actor):
        self.killed.append(actor)


def test_pool_fails_the_source_of_a_dead_worker_and_replaces_it(tmp_path):
    from vtxlib.batch import SourceStatus
    from vtxlib.batch_ray import _Pool

    ray = _FakeRay()
    pool = _Pool(ray, Workspace(tmp_path / "ws"), PipelineOptions(), workers=2, cpus=1.0, gpus=0.5)
    rows = [SourceStatus(source=s, folder=str(tmp_path / s)) for s in ("a.wav", "crash.wav", "b.wav", "c.wav")]
    saves, lines = [], []
    pool.run(rows, lambda: saves.append([r.status for r in rows]), lines.append)
    assert [r.status for r in rows] == ["done", "failed", "done", "done"]
    assert rows[1].error.startswith("worker: RayActorError: The actor died") and rows[1].seconds >= 0
    assert rows[0].words == 7 and rows[0].speakers == 2 and rows[0].duration == 3.0 and rows[0].language == "en"
    assert len(ray.spawned) == 3 and ray.killed == [ray.spawned[1]], "the dead worker was replaced"
    assert ray.resources == {"num_cpus": 1.0, "num_gpus": 0.5, "max_restarts": 0, "max_task_retries": 0}
    assert len(saves) == 8 and sum(line.startswith("start") for line in lines) == 4


# -- a local Ray cluster, killed and resumed -------------------------------------------------------
@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    from vtxlib.testing.synth import make_conversation

    folder = tmp_path_factory.mktemp("ray-sources")
    first = make_conversation(folder / "synth", 2, 4, seed=31).wav
    last = make_conversation(folder / "synth", 2, 40, seed=32).wav  # still running when the first is done
    bad = folder / "broken.wav"
    bad.write_bytes(b"RIFF this is not audio at all" * 50)
    listing = folder / "videos.txt"
    listing.write_text(f"# two recordings and a broken file\n{first}\n{bad}\n{last}\n")
    return listing, [str(first), str(bad), str(last)]


def _status(folder: Path) -> dict:
    try:
        return {r["source"]: r for r in json.loads((folder / "status.json").read_text())["sources"]}
    except (OSError, ValueError):
        return {}


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def _listening(driver: int, rows: dict) -> set[tuple[str, str]]:
    """(address, process name) of every TCP socket listening in the batch's local Ray runtime: the
    processes of the driver's session and the workers named in the stage logs."""
    import psutil

    workers = {e["pid"] for row in rows.values() if row.get("folder") for e in read_stage_log(row["folder"])}
    found = set()
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status != psutil.CONN_LISTEN or conn.pid is None:
            continue
        try:
            process = psutil.Process(conn.pid)
            if conn.pid in workers or os.getsid(conn.pid) == driver:
                found.add((conn.laddr.ip, process.name()))
        except (psutil.NoSuchProcess, ProcessLookupError):
            continue
    return found


def _artifacts(workspace: Path) -> dict[Path, int]:
    files = [p for stage in CACHED_STAGES for p in workspace.glob(f"media/*/{stage}/*.json")]
    return {p: p.stat().st_mtime_ns for p in files + list(workspace.glob("media/*/audio.wav"))}


@pytest.mark.slow
def test_ray_batch_resumes_after_kill_without_rerunning_anything(sources, tmp_path):
    require("ray", extra="ray")
    require("psutil", extra="ray")
    listing, (first, bad, last) = sources
    workspace = tmp_path / "ws"
    batch = workspace / "batch" / "videos"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
           "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", "vtxlib", "batch", str(listing), "--engine", "ray", "--workspace",
               str(workspace), "--name", "videos", "-q", "--asr", "whisper-cpu", "--diarizer", "embedded",
               "--emotion", "embedded"]
    proc = subprocess.Popen(command + ["--workers", "2"], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.time() + 300
    try:
        while time.time() < deadline and _status(batch).get(first, {}).get("status") != "done":
            assert proc.poll() is None, f"the batch ended before it could be killed: {proc.stderr.read()[-2000:]}"
            time.sleep(0.2)
        listening = _listening(proc.pid, _status(batch))
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the driver and the Ray runtime it started, as a lost VM would
        proc.wait()
        proc.stderr.close()
    killed = _status(batch)
    assert killed[first]["status"] == "done", "the first source never finished"
    assert killed[last]["status"] == "running", "killed too late to test resuming"
    killed_pids = {e["pid"] for s in (first, bad, last) for e in read_stage_log(killed[s]["folder"])}
    assert len(killed_pids) == 2, "two workers ran the first part"
    assert listening and all(ip in ("127.0.0.1", "::ffff:127.0.0.1") for ip, _ in listening), listening
    assert {name for _, name in listening} >= {"gcs_server", "raylet"}, "Ray's own servers were not seen"
    while any(map(_alive, killed_pids)) and time.time() < deadline:  # workers exit once their raylet is gone
        time.sleep(0.2)
    assert not any(map(_alive, killed_pids)), "a worker outlived its killed batch"
    before = _artifacts(workspace)
    first_log = read_stage_log(killed[first]["folder"])
    computed_before_kill = {e["stage"] for e in read_stage_log(killed[last]["folder"]) if e["event"] == "computed"}

    done = subprocess.run(command + ["--workers", "1"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 1, done.stdout + done.stderr  # 1: a source failed
    assert "earlier run" in done.stdout and "x real time" in done.stdout

    rows = _status(batch)
    assert list(rows) == [first, bad, last]
    assert rows[first]["status"] == "done" and rows[first]["skipped"]
    assert rows[bad]["status"] == "failed" and rows[bad]["error"].startswith("audio: InputError:")
    assert "broken.wav" in rows[bad]["error"]
    assert rows[last]["status"] == "done" and not rows[last]["skipped"]
    for source in (first, last):
        row = rows[source]
        document = json.loads((workspace / "outputs" / row["media_id"] / "transcript.json").read_text())
        assert Path(row["outputs"]) == workspace / "outputs" / row["media_id"]
        assert row["speakers"] == len(document["speakers"]) >= 1 and row["words"] == sum(len(t["words"]) for t in document["turns"]) > 0  # noqa: E501
        assert row["language"] and row["language"] == language_label(document)
    with open(batch / "status.csv", newline="") as fh:
        table = list(csv.reader(fh))
    assert table[0] == ["source", "status", "speakers", "words", "language", "seconds", "outputs", "error"]
    assert [r[1] for r in table[1:]] == ["done (earlier run)", "failed", "done"]
    assert table[2][7] == rows[bad]["error"]

    # nothing ran twice: every cached stage was computed once over both runs, and no artifact written
    # before the kill was rewritten
    assert read_stage_log(rows[first]["folder"]) == first_log, "a finished source was run again"
    for source in (first, last):
        computed = [e["stage"] for e in read_stage_log(rows[source]["folder"]) if e.get("event") == "computed"]
        assert sorted(s for s in computed if s in CACHED_STAGES) == sorted(CACHED_STAGES), source
    assert {p: p.stat().st_mtime_ns for p in before} == before
    resumed = [e for e in read_stage_log(rows[last]["folder"]) if e["pid"] not in killed_pids]
    assert {e["stage"] for e in resumed if e["event"] == "cached"} == computed_before_kill & set(CACHED_STAGES)
    # one worker ran the bad source and then the last one: one process, its pipeline kept
    assert {e["pid"] for e in read_stage_log(rows[bad]["folder"]) if e["pid"] not in killed_pids} == \
        {e["pid"] for e in resumed}
    assert resumed[-1]["event"] == "end" and resumed[-1]["sources_run"] == 2
