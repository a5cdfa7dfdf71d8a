"""Batches on a Ray cluster: ``python -m vtxlib batch LIST --engine ray [--ray-address ADDR]``.

The sources of LIST go to a pool of Ray actors, one per worker process. An actor holds one
:class:`~vtxlib.pipeline.Pipeline` for its whole life, so a worker loads its models on its first
source and keeps them for every later one (GPU models too: ``free_gpu_between_stages`` is off
unless ``--release-gpu-models``). Each actor asks Ray for ``--cpus-per-task`` CPUs and, when the
selected backends run on a GPU, ``--gpus-per-task`` GPUs, so Ray places as many workers on a node
as its resources hold.

Workers read and write the one workspace (a path every node sees: a shared filesystem or a mounted
bucket). The batch folder, ``status.json`` / ``status.csv`` / ``status.md`` and the resume rules are
those of the local engine (:func:`vtxlib.batch.prepare_batch`): a killed batch resumes where it
stopped (sources done are skipped; a source that was running is redone, its finished stages loaded
from the workspace cache), and one bad source, or a worker process that dies, fails that source
only. Each source's folder gets ``stages.jsonl``: which host and process ran it and, stage by
stage, whether it was computed or loaded from the cache.

Without ``--ray-address`` a local Ray runtime starts on this machine, bound to 127.0.0.1, with no
dashboard, and stops with the batch.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import os
import socket
import threading
import time
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

from .batch import BatchReport, SourceStatus, describe_failure, end_line, prepare_batch
from .errors import InputError, StageFailed, missing_dependency
from .language import label as language_label
from .workspace import Workspace

log = logging.getLogger("vtxlib.batch_ray")

STAGE_LOG = "stages.jsonl"  # per source folder: one line per stage event, appended by the worker
#: the local runtime only passes small records between processes; Ray's default reserves 30 % of RAM
LOCAL_OBJECT_STORE_BYTES = 128 * 1024 * 1024
LOCAL_START_ATTEMPTS = 3
CLUSTER_SWITCH = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"  # "0": single machine, servers on 127.0.0.1


@dataclass
class RayOptions:
    address: Optional[str] = None  # an existing cluster; None starts a local runtime on 127.0.0.1
    workers: Optional[int] = None  # actors; default: as many as the cluster's CPUs/GPUs hold
    gpus_per_task: Optional[float] = None  # None: 1 when a selected backend runs on a GPU, else 0
    cpus_per_task: float = 1.0
    release_gpu_models: bool = False  # free each GPU model after its stage (small GPUs); reloads per source
    name: Optional[str] = None  # batch folder name; default derived from INPUT
    retry_failed: bool = True
    log_to_driver: bool = False  # forward the workers' stdout/stderr to this process

    def __post_init__(self) -> None:
        if self.workers is not None and self.workers < 1:
            raise InputError(f"--workers {self.workers}: expected 1 or more")
        if self.gpus_per_task is not None and self.gpus_per_task < 0:
            raise InputError(f"--gpus-per-task {self.gpus_per_task}: expected 0 or more (0.5: two workers a GPU)")
        if self.cpus_per_task <= 0:
            raise InputError(f"--cpus-per-task {self.cpus_per_task}: expected more than 0")


# -- resources ---------------------------------------------------------------------------------
def gpus_per_task(pipeline_options: Any, requested: Optional[float], cluster_gpus: float) -> float:
    """GPUs each worker asks for: REQUESTED if given, else 1 when a backend named in the options runs
    on a GPU, or when one is ``auto`` and the cluster has GPUs (``auto`` then picks the GPU tier)."""
    from .pipeline import GPU_BACKENDS

    if requested is not None:
        return requested
    chosen = [pipeline_options.asr, pipeline_options.diarizer]
    if pipeline_options.emotion != "off":
        chosen.append(pipeline_options.emotion)
    if any(name in GPU_BACKENDS for name in chosen):
        return 1.0
    return 1.0 if "auto" in chosen and cluster_gpus > 0 else 0.0


def worker_count(requested: Optional[int], sources: int, cpus: float, gpus: float, resources: dict) -> int:
    """Actors to start: REQUESTED, else as many as the cluster's GPUs (or CPUs) hold; never more
    than there are SOURCES to run."""
    if requested is not None:
        count = requested
    elif gpus > 0:
        count = int(resources.get("GPU", 0) // gpus)
    else:
        count = int(resources.get("CPU", 1) // cpus)
    return max(1, min(count, sources))


def _check_gpus(gpus: float, resources: dict, local: bool) -> None:
    available = resources.get("GPU", 0)
    if gpus <= 0 or available >= gpus:
        return
    message = (f"each worker asks for {gpus:g} GPU(s) (a GPU backend was selected, or --gpus-per-task) but "
               f"the Ray cluster has {available:g}")
    if local:
        raise InputError(f"{message}. Choose CPU backends (--asr whisper-cpu --diarizer embedded "
                         f"--emotion embedded), --gpus-per-task 0, or --ray-address of a cluster with GPUs.")
    log.warning("%s: the workers wait until a node with a GPU joins the cluster", message)


# -- the Ray runtime -----------------------------------------------------------------------------
def import_ray(local: bool):
    """Import ray; for a LOCAL runtime without usage reports (this machine may be offline)."""
    if local:
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        os.environ.setdefault("RAY_AUTH_MODE", "token")  # Ray's default; set, it is not announced
    try:
        import ray
    except ImportError as e:
        raise missing_dependency("ray", "ray", "Batches on Ray (--engine ray)") from e
    return ray


@contextmanager
def ray_runtime(ray, options: RayOptions, workers_hint: Optional[int]) -> Iterator[bool]:
    """Connect to ``options.address`` or start a local runtime; yields True when it is local.

    A process already connected (e.g. a notebook that called ``ray.init``) keeps its connection.
    """
    if ray.is_initialized():
        yield False
        return
    common = dict(logging_level=logging.WARNING, log_to_driver=options.log_to_driver,
                  namespace="vtx-batch")
    if options.address:
        check_reachable(options.address)
        try:
            ray.init(address=options.address, **common)
        except (ConnectionError, RuntimeError, ValueError) as e:
            raise InputError(f"cannot connect to the Ray cluster at {options.address}: {e}. Start it with "
                             f"`ray start --head` and pass the address it prints.") from e
    else:
        cpus = os.cpu_count() or 1
        if workers_hint:  # the workers asked for run side by side even where cores are fewer
            cpus = max(cpus, math.ceil(workers_hint * options.cpus_per_task))
        _start_local(ray, dict(num_cpus=cpus, include_dashboard=False,
                               object_store_memory=LOCAL_OBJECT_STORE_BYTES, **common))
        _warn_unless_loopback(ray)
    try:
        yield not options.address
    finally:
        ray.shutdown()


def check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Refuse a HOST:PORT where nothing listens (Ray itself would retry for minutes); ``auto`` and
    ``ray://`` addresses are left to Ray."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or "://" in address:
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as e:
        raise InputError(f"no Ray cluster answers at {address} ({e.strerror or e}). Start its head node with "
                         f"`ray start --head --port {port}` and pass the address it prints.") from None


def _start_local(ray, kwargs: dict) -> None:
    """``ray.init`` of a local runtime, tried again when Ray's own start-up deadlines pass (its raylet
    gives up after 15 s without its agent, which happens on an overloaded machine)."""
    for attempt in range(1, LOCAL_START_ATTEMPTS + 1):
        try:
            with _loopback_only(ray):
                ray.init(address="local", **kwargs)
            return
        except Exception as e:  # Ray raises a bare Exception for a node that did not come up
            ray.shutdown()
            if attempt == LOCAL_START_ATTEMPTS:
                raise StageFailed(f"the local Ray runtime did not start after {attempt} tries ({e}); is the "
                                  f"machine overloaded? Ray's logs: /tmp/ray/session_latest/logs") from e
            log.warning("the local Ray runtime did not start (%s); trying again", e)


@contextmanager
def _loopback_only(ray) -> Iterator[None]:
    """While a local runtime starts, Ray's clustering switch is off: its node address, to which every
    server of the runtime binds, is then 127.0.0.1. The variable is for the processes Ray starts;
    this process read it when it imported ray, so its constant is set too. Both are restored after,
    so a later ``--ray-address`` in the same process reaches other machines."""
    constants = getattr(getattr(ray, "_private", None), "ray_constants", None)
    before = getattr(constants, "ENABLE_RAY_CLUSTER", None)
    variable = os.environ.get(CLUSTER_SWITCH)
    os.environ[CLUSTER_SWITCH] = "0"
    if before:
        constants.ENABLE_RAY_CLUSTER = False
    try:
        yield
    finally:
        if before:
            constants.ENABLE_RAY_CLUSTER = before
        if variable is None:
            os.environ.pop(CLUSTER_SWITCH, None)
        else:
            os.environ[CLUSTER_SWITCH] = variable


def _warn_unless_loopback(ray) -> None:
    addresses = {node.get("NodeManagerAddress") for node in ray.nodes()}
    if addresses != {"127.0.0.1"}:
        log.warning("the local Ray runtime listens on %s, not only 127.0.0.1 (this Ray version ignores "
                    "%s=0); firewall its ports or pass --ray-address",
                    ", ".join(sorted(map(str, addresses))), CLUSTER_SWITCH)


# -- the worker ------------------------------------------------------------------------------------
class SourceWorker:
    """One worker process: one Pipeline, so models load on the first source and stay loaded.

    Ray runs it as an actor (``ray.remote(SourceWorker)``); it is a plain class so that it can be
    tested without Ray. :meth:`run` never raises for a bad source: it returns the failure.
    """

    def __init__(self, workspace_root: str, pipeline_options: Any):
        from .pipeline import Pipeline

        self.workspace = Workspace(workspace_root)
        self.pipeline = Pipeline(self.workspace, pipeline_options, hook=self._hook)
        self.sources_run = 0
        self._lock = threading.Lock()  # ASR and diarization report from two threads
        self._running: list[str] = []
        self._log: Optional[Path] = None
        self._source = ""

    def run(self, source: str, folder: str) -> dict:
        """Run every stage for SOURCE; returns the status row's fields (and ``worker``)."""
        from .pipeline import STAGES

        self.sources_run += 1
        started = time.perf_counter()
        Path(folder).mkdir(parents=True, exist_ok=True)
        self._log, self._source, self._running = Path(folder) / STAGE_LOG, source, []
        try:
            values = {"status": "done", **result_values(self.pipeline.run(source))}
        except Exception as e:  # one bad source must never stop the worker: report it and go on
            stage = min(self._running, key=STAGES.index, default="acquire")
            values = {"status": "failed", "error": f"{stage}: {describe_failure(e)}"}
            log.info("%s failed in %s: %s", source, stage, values["error"])
        values["seconds"] = round(time.perf_counter() - started, 2)
        values["worker"] = f"{socket.gethostname()}:{os.getpid()}"
        self._write({"event": "end", "status": values["status"]})
        return values

    def _hook(self, stage: str, event: str, completed: Any = None, total: Any = None) -> None:
        if event == "progress":
            return
        with self._lock:
            if event == "start":
                self._running.append(stage)
            elif stage in self._running:
                self._running.remove(stage)
        self._write({"stage": stage, "event": "computed" if event == "done" else event})

    def _write(self, record: dict) -> None:
        if self._log is None:
            return
        line = json.dumps({"time": time.strftime("%Y-%m-%dT%H:%M:%S"), "host": socket.gethostname(),
                           "pid": os.getpid(), "sources_run": self.sources_run, "source": self._source, **record})
        with self._lock, open(self._log, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")

    def close(self) -> None:
        self.pipeline.close()


def result_values(result) -> dict:
    """The status row's fields from a RunResult (what the notebooks record for the local engine)."""
    values: dict[str, Any] = {"media_id": result.media.id}
    if result.audio is not None:
        values["duration"] = round(result.audio.duration, 2)
    if result.document is not None:
        values["speakers"] = len(result.document.speakers)
        values["words"] = len(result.document.transcript.words)
        values["language"] = language_label(result.document.language_detection, result.document.language)
    if "vtt" in result.outputs:
        values["outputs"] = str(Path(result.outputs["vtt"]).parent)
    if result.incomplete:
        values["error"] = "incomplete: " + "; ".join(f"{s} ({why})" for s, why in result.incomplete.items())
    return values


def read_stage_log(folder: Path | str) -> list[dict]:
    """The ``stages.jsonl`` records of a source folder (empty when it never started)."""
    path = Path(folder) / STAGE_LOG
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


# -- scheduling ------------------------------------------------------------------------------------
def run_batch_ray(input_: str, workspace: Workspace, pipeline_options: Any = None,
                  options: Optional[RayOptions] = None, sources: Optional[list[str]] = None,
                  echo: Callable[[str], None] = lambda line: None) -> BatchReport:
    """Run the pipeline for every source of INPUT on Ray workers; returns (and writes) the status table."""
    from .pipeline import PipelineOptions

    options = options or RayOptions()
    pipeline_options = copy.copy(pipeline_options or PipelineOptions())
    pipeline_options.force = None  # a forced stage would be recomputed again on every resume
    pipeline_options.free_gpu_between_stages = options.release_gpu_models
    name, folder, status, rows = prepare_batch(input_, workspace, options.name, options.retry_failed, sources)
    for row in rows:
        if row.skipped:
            echo(f"skip   {row.source} ({row.status} in an earlier run)")
    todo = [row for row in rows if not row.skipped]
    started = time.perf_counter()
    if todo:
        ray = import_ray(local=not options.address)
        with ray_runtime(ray, options, options.workers) as local:
            resources = ray.cluster_resources()
            gpus = gpus_per_task(pipeline_options, options.gpus_per_task, resources.get("GPU", 0))
            _check_gpus(gpus, resources, local)
            workers = worker_count(options.workers, len(todo), options.cpus_per_task, gpus, resources)
            log.info("%d source(s) on %d Ray worker(s), %g CPU and %g GPU each", len(todo), workers,
                     options.cpus_per_task, gpus)
            pool = _Pool(ray, workspace, pipeline_options, workers, options.cpus_per_task, gpus)
            pool.run(todo, lambda: status.save(rows), echo)
    report = BatchReport(name, folder, rows, time.perf_counter() - started)
    status.save(rows, report.throughput())
    return report


class _Pool:
    """WORKERS actors; each gets the next source when it finishes one. A worker process that dies
    fails its source and is replaced."""

    def __init__(self, ray, workspace: Workspace, pipeline_options: Any, workers: int, cpus: float, gpus: float):
        self.ray = ray
        self.actor_class = ray.remote(SourceWorker).options(num_cpus=cpus, num_gpus=gpus, max_restarts=0,
                                                            max_task_retries=0)
        self.args = (str(workspace.root), pipeline_options)
        self.actors = [self._spawn() for _ in range(workers)]

    def _spawn(self):
        return self.actor_class.remote(*self.args)

    def run(self, rows: list[SourceStatus], save: Callable[[], None], echo: Callable[[str], None]) -> None:
        queue, running = deque(rows), {}

        def submit(actor) -> None:
            row = queue.popleft()
            row.status, row.error = "running", ""
            save()
            echo(f"start  {row.source}")
            running[actor.run.remote(_local_path(row.source), row.folder)] = (row, actor, time.perf_counter())

        for actor in self.actors:
            if queue:
                submit(actor)
        while running:
            (ref,), _ = self.ray.wait(list(running), num_returns=1)
            row, actor, submitted = running.pop(ref)
            actor = self._collect(ref, row, actor, submitted)
            save()
            echo(end_line(row))
            if queue:
                submit(actor)

    def _collect(self, ref, row: SourceStatus, actor, submitted: float):
        """Fill ROW from the finished task; returns the actor for the next source (a new one if it died)."""
        try:
            values = self.ray.get(ref)
        except self.ray.exceptions.RayError as e:
            row.status, row.seconds = "failed", round(time.perf_counter() - submitted, 2)
            row.error = f"worker: {describe_failure(e)}"
            if isinstance(e, self.ray.exceptions.RayActorError):  # its process died (killed for memory, crashed)
                log.warning("a Ray worker died while running %s; starting another", row.source)
                self.ray.kill(actor)
                actor = self._spawn()
            return actor
        for key, value in values.items():
            if key != "worker":
                setattr(row, key, value)
        log.info("%s: %s on %s", row.source, row.status, values.get("worker"))
        return actor


def _local_path(source: str) -> str:
    """An existing local file as an absolute path (workers do not share this process's folder)."""
    from .acquire import is_url

    if is_url(source):
        return source
    path = Path(source).expanduser()
    return str(path.resolve()) if path.exists() else source


# -- command line ----------------------------------------------------------------------------------
def add_arguments(p) -> None:
    group = p.add_argument_group("Ray engine (--engine ray; pip install 'vtxlib[ray]')")
    group.add_argument("--ray-address", default=None, metavar="ADDR",
                       help="an existing Ray cluster, e.g. 10.0.0.5:6379 (see `ray start --head`); "
                            "default: a local Ray runtime on this machine, bound to 127.0.0.1")
    group.add_argument("--workers", type=int, default=None,
                       help="Ray workers (each loads the models once); default: as many as the cluster's "
                            "GPUs (GPU backends) or CPUs hold")
    group.add_argument("--gpus-per-task", type=float, default=None, metavar="N",
                       help="GPUs each worker asks for (0.5: two workers share a GPU); default 1 when a "
                            "selected backend runs on a GPU, else 0")
    group.add_argument("--cpus-per-task", type=float, default=1.0, metavar="N", help="CPUs each worker asks for")
    group.add_argument("--release-gpu-models", action="store_true",
                       help="free each GPU model after its stage (GPUs too small to hold all of them); "
                            "models then reload for every source")


RAY_ONLY = {"ray_address": None, "workers": None, "gpus_per_task": None, "cpus_per_task": 1.0,
            "release_gpu_models": False}


def options_from_args(args) -> RayOptions:
    return RayOptions(address=args.ray_address, workers=args.workers, gpus_per_task=args.gpus_per_task,
                      cpus_per_task=args.cpus_per_task, release_gpu_models=args.release_gpu_models,
                      name=args.name, retry_failed=not args.no_retry_failed, log_to_driver=args.verbose > 0)


def check_engine_arguments(args, local_only: dict) -> None:
    """Refuse options the chosen engine would silently ignore; LOCAL_ONLY maps names to defaults."""
    ray = args.engine == "ray"
    given = [name for name, default in (local_only if ray else RAY_ONLY).items() if getattr(args, name) != default]
    if given:
        names = ", ".join("--" + name.replace("_", "-") for name in given)
        raise InputError(f"{names}: only for the notebook engine (--engine local); the Ray engine runs every "
                         f"stage with the pipeline options" if ray else f"{names}: only with --engine ray")


def run_from_args(args, workspace: Workspace, echo: Callable[[str], None]) -> BatchReport:
    from .cli_options import pipeline_options_from_args

    if args.force:
        log.warning("--force is not applied in batch runs; use `python -m vtxlib run --force` per source")
    return run_batch_ray(args.input, workspace, pipeline_options_from_args(args), options_from_args(args),
                         echo=echo)
