"""The Colab install (vtxlib.colab_install): Colab's torch family pinned in every pip call, pip's output
streamed, a changed already-imported module restarts the runtime, VTX_SOURCE forms, and the Drive
wheel cache exercised with real pip on a fake Drive folder and a local package index."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import zipfile
from importlib.metadata import version
from pathlib import Path

import pytest
from needs import require
from repo_tools import make_notebooks_module

from vtxlib import colab_install
from vtxlib.errors import InputError

ROOT = Path(__file__).resolve().parents[1]


def _done(code: int = 0):
    return lambda cmd, echo: code


@pytest.fixture(autouse=True)
def stamp_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(colab_install, "STAMP_DIR", tmp_path / "stamps")
    return tmp_path / "stamps"


def test_every_pip_call_pins_the_running_torch_family(tmp_path):
    calls = []

    def run(cmd, echo):
        calls.append((cmd, Path(cmd[cmd.index("-c") + 1]).read_text().split()))
        return 0

    result = colab_install.install_requirements(ROOT / "requirements-colab.txt", run=run, echo=lambda line: None)
    assert result.origin == "index" and result.changed == {}
    cmd, pins = calls[0]
    assert cmd[cmd.index("-r") + 1].endswith("requirements-colab.txt")
    assert f"torch=={version('torch')}" in pins  # exact, local label (+cpu, +cu128) included
    assert f"torchcodec=={version('torchcodec')}" in pins
    assert "--progress-bar" in cmd and "-q" not in cmd and "--quiet" not in cmd


def test_an_imported_module_changed_on_disk_restarts_once(monkeypatch):
    before = {"numpy": "2.1.3", "packaging": "26.0", "webvtt-py": "0.5.1", "torch": "2.11.0+cu128"}
    after = {"numpy": "2.2.6", "packaging": "24.2", "webvtt-py": "0.6.0", "torch": "2.11.0+cu128"}
    snapshots = iter([before, after])
    monkeypatch.setattr(colab_install, "installed_versions", lambda: next(snapshots))
    restarts, lines = [], []
    result = colab_install.install_requirements(ROOT / "requirements-colab.txt", run=_done(), echo=lines.append,
                                                restart=lambda: restarts.append(1), modules={"numpy", "packaging"})
    assert restarts == [1]
    assert result.changed == {"numpy": ("2.1.3", "2.2.6"), "packaging": ("26.0", "24.2")}  # webvtt not imported
    assert "restarting the runtime" in lines[-1] and "numpy 2.1.3 -> 2.2.6" in lines[-1]
    # after the restart the same cell runs again: the stamp skips pip entirely
    monkeypatch.setattr(colab_install, "installed_versions", lambda: after)
    again = colab_install.install_requirements(ROOT / "requirements-colab.txt",
                                               run=lambda cmd, echo: pytest.fail("pip ran again"))
    assert again.origin == "already installed"


def test_outside_colab_a_changed_import_is_one_line_to_act_on(monkeypatch):
    snapshots = iter([{"numpy": "2.1.3"}, {"numpy": "2.2.6"}])
    monkeypatch.setattr(colab_install, "installed_versions", lambda: next(snapshots))
    with pytest.raises(colab_install.RestartRequired, match=r"numpy 2.1.3 -> 2.2.6.*restart the kernel"):
        colab_install.install_requirements(ROOT / "requirements-colab.txt", run=_done(), echo=lambda line: None,
                                           modules={"numpy"})


def test_a_changed_torch_stops_loudly(monkeypatch):
    snapshots = iter([{"torch": "2.11.0+cu128"}, {"torch": "2.13.0"}])
    monkeypatch.setattr(colab_install, "installed_versions", lambda: next(snapshots))
    with pytest.raises(colab_install.VtxError, match="torch family"):
        colab_install.install_requirements(ROOT / "requirements-colab.txt", run=_done(), echo=lambda line: None)


def test_pip_output_is_streamed_while_pip_runs(tmp_path):
    """The second line is only printed after the first one reached ECHO: captured output would hang
    until the child's own timeout and show 'not streamed'."""
    flag = tmp_path / "seen"
    child = ("import os, sys, time\nprint('one', flush=True)\ndeadline = time.time() + 20\n"
             f"while not os.path.exists({str(flag)!r}) and time.time() < deadline: time.sleep(0.01)\n"
             f"print('two' if os.path.exists({str(flag)!r}) else 'not streamed')\n")
    lines = []

    def echo(line):
        lines.append(line)
        if line == "one":
            flag.touch()

    assert colab_install.run_pip([sys.executable, "-c", child], echo=echo) == 0
    assert lines[1:] == ["one", "two"]


def test_off_colab_setup_installs_nothing(monkeypatch):
    monkeypatch.setattr(colab_install, "run_pip", lambda *a, **k: pytest.fail("pip was called"))
    result = colab_install.setup_runtime("", colab=False)
    assert result.installed is False and "not on Colab" in result.describe()


def test_requirements_file_from_each_vtx_source(tmp_path):
    nowhere = tmp_path / "site-packages"  # vtxlib installed from a wheel: no repository around it
    repo = tmp_path / "vtx"
    repo.mkdir()
    (repo / "requirements-colab.txt").write_text("webvtt-py==0.6.0\n")
    assert colab_install.requirements_file(str(repo), package_root=nowhere) == repo / "requirements-colab.txt"
    archive = tmp_path / "vtx.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("vtx-main/requirements-colab.txt", "webvtt-py==0.6.0\n")
        zf.writestr("vtx-main/tests/data/requirements-colab.txt", "other\n")
    found = colab_install.requirements_file(str(archive), work_dir=tmp_path / "work", package_root=nowhere)
    assert found.read_text() == "webvtt-py==0.6.0\n"
    wheel = repo / "vtxlib-0.1.0-py3-none-any.whl"
    assert colab_install.requirements_file(str(wheel), package_root=nowhere) == repo / "requirements-colab.txt"
    with pytest.raises(InputError, match="no requirements-colab.txt beside the wheel"):
        colab_install.requirements_file(str(tmp_path / "elsewhere" / wheel.name), package_root=nowhere)
    with pytest.raises(InputError, match="set VTX_SOURCE"):
        colab_install.requirements_file("", package_root=nowhere)
    assert colab_install.requirements_file("", package_root=ROOT) == ROOT / "requirements-colab.txt"


# -- real pip on a fake Drive: a local index, a fake torch and a module the kernel has imported --------
def _wheel(folder: Path, name: str, ver: str, requires: tuple[str, ...] = ()) -> Path:
    module, dist = name.replace("-", "_"), f"{name.replace('-', '_')}-{ver}"
    files = {f"{module}/__init__.py": f"__version__ = {ver!r}\n",
             f"{dist}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {ver}\n"
             + "".join(f"Requires-Dist: {r}\n" for r in requires),
             f"{dist}.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    record = [f"{path},sha256={base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b'=').decode()},"
              f"{len(text.encode())}" for path, text in files.items()] + [f"{dist}.dist-info/RECORD,,"]
    path = folder / f"{dist}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        for name_in_zip, text in {**files, f"{dist}.dist-info/RECORD": "\n".join(record) + "\n"}.items():
            zf.writestr(name_in_zip, text)
    return path


def _index(root: Path, wheels: list[Path]) -> str:
    """A PEP 503 'simple' index on disk, as pip reads it through file:// URLs."""
    by_project = {}
    for wheel in wheels:
        by_project.setdefault(wheel.name.split("-")[0].replace("_", "-"), []).append(wheel)
    for project, files in by_project.items():
        page = root / "simple" / project
        page.mkdir(parents=True)
        links = "".join(f'<a href="{w.as_uri()}">{w.name}</a>\n' for w in files)
        (page / "index.html").write_text(f"<html><body>\n{links}</body></html>\n")
    return (root / "simple").as_uri()


INSTALL_SCRIPT = """
import json, sys
from pathlib import Path
from vtxlib import colab_install
import demo_core  # imported by the "kernel" before the install, as Colab imports numpy
requirements, cache, stamps = (Path(a) for a in sys.argv[1:4])
colab_install.STAMP_DIR = stamps
restarted = []
try:
    result = colab_install.install_requirements(requirements, wheel_cache=cache, echo=lambda line: None,
                                                restart=lambda: restarted.append(True))
    print(json.dumps({"origin": result.origin, "changed": result.changed, "restarted": bool(restarted)}))
except colab_install.VtxError as e:
    print(json.dumps({"error": str(e)}))
"""


@pytest.mark.slow
def test_wheel_cache_on_a_fake_drive_with_real_pip(tmp_path):
    files = tmp_path / "files"
    files.mkdir()
    wheels = [_wheel(files, "torch", "9.9.0+cu999"), _wheel(files, "torch", "10.0.0"),
              _wheel(files, "demo-core", "1.0"), _wheel(files, "demo-core", "2.0"),
              _wheel(files, "demo-app", "1.0", ("demo-core>=2.0", "torch")),
              _wheel(files, "demo-extra", "1.0"), _wheel(files, "demo-greedy", "1.0", ("torch>=10",))]
    index = _index(tmp_path / "index", wheels)
    venv = tmp_path / "runtime"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = str(venv / "bin" / "python")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("PIP_")}, "PYTHONPATH": str(ROOT),
           "PIP_CONFIG_FILE": os.devnull,  # no machine-wide find-links, indexes or constraints
           "PIP_INDEX_URL": index, "PIP_NO_CACHE_DIR": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    script = tmp_path / "install.py"
    script.write_text(INSTALL_SCRIPT)
    cache = tmp_path / "drive" / "MyDrive" / "vtx" / "wheels" / "py-torch9.9.0+cu999"

    def colab_image():  # a fresh runtime: Colab's torch build and an old demo-core, nothing else
        subprocess.run([python, "-m", "pip", "uninstall", "-q", "-y", "demo-app", "demo-core", "demo-extra"],
                       env=env, capture_output=True, timeout=120)
        subprocess.run([python, "-m", "pip", "install", "-q", "torch==9.9.0+cu999", "demo-core==1.0"], env=env,
                       check=True, timeout=120)

    def install(requirements: str, stamps: str, **extra_env) -> dict:
        req = tmp_path / f"{stamps}.txt"
        req.write_text(requirements)
        proc = subprocess.run([python, str(script), str(req), str(cache), str(tmp_path / stamps)],
                              env={**env, **extra_env}, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
        return json.loads(proc.stdout.strip().splitlines()[-1])

    def installed(name: str) -> str:
        return subprocess.run([python, "-c", f"from importlib.metadata import version; print(version({name!r}))"],
                              capture_output=True, text=True, env=env).stdout.strip()

    colab_image()
    # 00: builds the cache on Drive, installs from it. demo-app needs demo-core>=2.0 while the kernel has
    # imported 1.0: keeping it fails, so it installs without that pin and restarts (the fallback)
    first = install("demo-app\n", "first")
    assert first == {"origin": "index, into the wheel cache", "changed": {"demo-core": ["1.0", "2.0"]},
                     "restarted": True}
    assert sorted(p.name for p in cache.glob("*.whl")) == ["demo_app-1.0-py3-none-any.whl",
                                                           "demo_core-2.0-py3-none-any.whl"]  # no torch
    assert installed("torch") == "9.9.0+cu999"

    colab_image()  # a later notebook = a new runtime; the index is gone: the cache alone must do
    later = install("demo-app\n", "later", PIP_INDEX_URL=(tmp_path / "no-index").as_uri())
    assert later["origin"] == "wheel cache" and later["restarted"] is True
    assert installed("demo-app") == "1.0"

    topped = install("demo-app\ndemo-extra\n", "topped")  # not in the cache: topped up from the index
    assert topped["origin"] == "wheel cache (topped up)" and installed("demo-extra") == "1.0"
    assert "demo_extra-1.0-py3-none-any.whl" in {p.name for p in cache.glob("*.whl")}

    greedy = install("demo-greedy\n", "greedy")  # wants torch>=10: pip must refuse, torch stays
    assert "failed" in greedy["error"] and installed("torch") == "9.9.0+cu999"


def test_requirements_file_from_a_git_source_is_a_shallow_clone(tmp_path):
    repo = tmp_path / "origin"
    repo.mkdir()
    (repo / "requirements-colab.txt").write_text("webvtt-py==0.6.0\n")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run([*git, "init", "-q", "-b", "release"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "r"], check=True)
    found = colab_install.requirements_file(f"git+{repo.as_uri()}@release", work_dir=tmp_path / "clone",
                                            package_root=tmp_path / "site-packages")
    assert found == tmp_path / "clone" / "requirements-colab.txt" and found.read_text() == "webvtt-py==0.6.0\n"


def test_an_unusable_wheel_cache_falls_back_to_the_index(tmp_path):
    blocked = tmp_path / "drive-is-a-file"
    blocked.write_text("")
    calls, lines = [], []
    result = colab_install.install_requirements(ROOT / "requirements-colab.txt", wheel_cache=blocked / "wheels",
                                                run=lambda cmd, echo: calls.append(cmd) or 0, echo=lines.append)
    assert result.origin == "index" and len(calls) == 2 and not any("--no-index" in c for c in calls)
    assert "--no-deps" in calls[1]  # then requirements-colab-nodeps.txt
    assert any("wheel cache unusable" in line for line in lines)


# -- no restart: what the kernel has imported is pinned -------------------------------------------------
def test_imported_distributions_are_pinned_so_nothing_the_kernel_loaded_changes():
    calls = []

    def run(cmd, echo):
        calls.append(Path(cmd[cmd.index("-c") + 1]).read_text().split())
        return 0

    result = colab_install.install_requirements(ROOT / "requirements-colab.txt", run=run, echo=lambda line: None,
                                                restart=lambda: pytest.fail("restarted"),
                                                modules={"numpy", "packaging.version", "json"})
    assert result.changed == {}
    assert f"numpy=={version('numpy')}" in calls[0] and f"packaging=={version('packaging')}" in calls[0]
    assert f"torch=={version('torch')}" in calls[0]


def test_the_no_deps_list_is_installed_after_with_no_deps(tmp_path):
    requirements = tmp_path / "requirements-colab.txt"
    requirements.write_text("demo-app\n")
    (tmp_path / "requirements-colab-nodeps.txt").write_text("# why\npyannote.metrics==4.2.0\n")
    calls = []
    colab_install.install_requirements(requirements, run=lambda cmd, echo: calls.append(cmd) or 0,
                                       echo=lambda line: None, modules=set())
    assert len(calls) == 2 and "--no-deps" not in calls[0]
    assert "--no-deps" in calls[1] and calls[1][calls[1].index("-r") + 1].endswith("requirements-colab-nodeps.txt")


def test_wheel_cache_folder_is_named_after_the_requirements_and_old_ones_pruned(tmp_path):
    requirements = tmp_path / "requirements-colab.txt"
    requirements.write_text("demo-app\n")
    versions = {"torch": "2.11.0+cu128"}
    first = colab_install.wheel_cache_dir(tmp_path / "wheels", versions, requirements)
    assert first.name.startswith("py") and "-torch2.11.0+cu128-" in first.name
    (tmp_path / "requirements-colab-nodeps.txt").write_text("pyannote.metrics==4.2.0\n")
    second = colab_install.wheel_cache_dir(tmp_path / "wheels", versions, requirements)
    assert second != first  # the --no-deps list is part of the digest
    first.mkdir(parents=True)
    second.mkdir()
    (tmp_path / "wheels" / "unrelated").mkdir()
    assert colab_install.prune_wheel_caches(second, echo=lambda line: None) == [first]
    assert sorted(p.name for p in (tmp_path / "wheels").iterdir()) == sorted([second.name, "unrelated"])


def test_a_failed_clone_never_shows_the_token(tmp_path):
    token = "ghp_SECRETtoken0123456789abcdef"
    with pytest.raises(InputError) as caught:
        colab_install.requirements_file(f"git+https://x-access-token:{token}@127.0.0.1:9/me/vtx.git",
                                        work_dir=tmp_path / "clone", package_root=tmp_path / "site-packages")
    assert token not in str(caught.value) and "https://***@127.0.0.1:9/me/vtx.git" in str(caught.value)


def test_flush_drive_calls_colabs_flush_and_unmount(tmp_path, monkeypatch):
    calls = []
    google, colab = type(sys)("google"), type(sys)("google.colab")
    colab.drive = type(sys)("google.colab.drive")
    colab.drive.flush_and_unmount = lambda: calls.append("flushed")
    google.colab = colab
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    monkeypatch.setitem(sys.modules, "google.colab.drive", colab.drive)
    assert colab_install.flush_drive(str(tmp_path), echo=lambda line: None) is False  # not mounted: nothing
    (tmp_path / "MyDrive").mkdir()
    assert colab_install.flush_drive(str(tmp_path), echo=lambda line: None) is True and calls == ["flushed"]


# -- the walk: 00 → 09 and the quick start, each a fresh runtime on a fake Colab -------------------------
FAKE_COLAB = {
    "google/__init__.py": "",
    "google/colab/__init__.py": "",
    "google/colab/drive.py": """
import json, os
from pathlib import Path
def mount(mount_point, **kwargs):  # Drive's content lives in FAKE_DRIVE_STORE; mounting links it in
    Path(mount_point).mkdir(parents=True, exist_ok=True)
    link = Path(mount_point, "MyDrive")
    if not link.exists():
        link.symlink_to(os.environ["FAKE_DRIVE_STORE"])
    with open(os.environ["FAKE_EVENTS"], "a") as f:
        f.write("mount\\n")
def flush_and_unmount():
    Path(os.environ["VTX_DRIVE_MOUNT"], "MyDrive").unlink()
    with open(os.environ["FAKE_EVENTS"], "a") as f:
        f.write("flush\\n")
""",
    "google/colab/userdata.py": """
import json, os
class SecretNotFoundError(Exception):
    pass
def get(name):
    with open(os.environ["FAKE_EVENTS"], "a") as f:
        f.write(f"secret {name}\\n")
    values = json.loads(os.environ.get("FAKE_USERDATA", "{}"))
    if name not in values:
        raise SecretNotFoundError(name)
    return values[name]
""",
}
RUNTIME_DRIVER = """
import builtins, json, sys, time
sys.path.insert(0, sys.argv[3])  # the fake google.colab
import demo_core  # Colab has numpy imported before the first cell; here demo_core stands for it
builtins.input = lambda *a: (_ for _ in ()).throw(AssertionError("the setup cell asked for input"))
cell = open(sys.argv[1]).read().split("from vtxlib import notebook as nb")[0]
cell = cell.replace('VTX_SOURCE = ""  # @param', f'VTX_SOURCE = {sys.argv[2]!r}  # @param', 1)
started = time.perf_counter()
namespace = {}
exec(compile(cell, "setup-cell", "exec"), namespace)
seconds = time.perf_counter() - started
from vtxlib.colab_install import flush_drive
flush_drive(echo=lambda line: None)  # what the notebook's last cell does
print(json.dumps({"origin": namespace["VTX_INSTALL"].origin, "seconds": round(seconds, 2)}))
"""


@pytest.mark.slow
def test_walking_every_notebook_in_fresh_runtimes_installs_from_the_drive_cache_and_never_restarts(tmp_path):
    """00 (source typed once) builds the Drive wheel cache; 01-09 and the quick start, each a new
    runtime without the package index, install from that cache only, ask for nothing, keep the
    imported module and never restart; a rerun in the same runtime installs nothing."""
    files = tmp_path / "files"
    files.mkdir()
    wheels = [_wheel(files, "torch", "9.9.0+cu999"), _wheel(files, "demo-core", "1.0"),
              _wheel(files, "demo-core", "2.0"), _wheel(files, "demo-app", "1.0", ("demo-core>=1.0", "torch")),
              # declares more than it needs, as pyannote.metrics declares numpy>=2.2.2: installed --no-deps
              _wheel(files, "demo-nodeps", "1.0", ("demo-core>=2.0",))]
    index = _index(tmp_path / "index", wheels)
    store = tmp_path / "drive-store"  # what "My Drive" holds across runtimes
    source_dir = store / "vtx-wheel"
    source_dir.mkdir(parents=True)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                    str(source_dir), str(ROOT)], check=True, capture_output=True, timeout=300)
    vtx_wheel = next(source_dir.glob("vtxlib-*.whl"))
    (source_dir / "requirements-colab.txt").write_text("demo-app\n")
    (source_dir / "requirements-colab-nodeps.txt").write_text("demo-nodeps==1.0\n")
    fake = tmp_path / "fake-colab"
    for name, text in FAKE_COLAB.items():
        (fake / name).parent.mkdir(parents=True, exist_ok=True)
        (fake / name).write_text(text)
    driver = tmp_path / "driver.py"
    driver.write_text(RUNTIME_DRIVER)
    nbformat = require("nbformat", extra="notebooks")
    make_notebooks = make_notebooks_module()
    names = [s.stem for s in make_notebooks.sources() if s.stem != "00_quickstart"] + ["00_quickstart"]
    assert names[0] == "00_setup_gpu" and names[-2] == "09_upload" and len(names) == 11
    base = {**{k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "VTX_", "PYTHON"))},
            "PIP_CONFIG_FILE": os.devnull, "PIP_NO_CACHE_DIR": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "FAKE_DRIVE_STORE": str(store)}

    def runtime(name: str, form_source: str, index_url: str, venv: Path = None) -> tuple[dict, list[str], Path]:
        fresh = venv is None
        venv = venv or tmp_path / "runtimes" / name
        if fresh:  # a new Colab VM: its image (torch, the imported demo-core 1.0), nothing of vtx
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
            subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "torch==9.9.0+cu999",
                            "demo-core==1.0"], env={**base, "PIP_INDEX_URL": index}, check=True, timeout=120)
            (venv / "tmp").mkdir()
        events = venv / "events.txt"
        events.write_text("")
        cell = tmp_path / f"{name}-setup.py"
        cell.write_text(next(c.source for c in nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4).cells
                             if c.cell_type == "code"))
        env = {**base, "PIP_INDEX_URL": index_url, "TMPDIR": str(venv / "tmp"), "FAKE_EVENTS": str(events),
               "VTX_DRIVE_MOUNT": str(venv / "content" / "drive"), "FAKE_USERDATA": "{}"}
        proc = subprocess.run([str(venv / "bin" / "python"), str(driver), str(cell), form_source, str(fake)],
                              env=env, capture_output=True, text=True, cwd=tmp_path, timeout=300)
        assert proc.returncode == 0, f"{name}: runtime died or failed ({proc.returncode}): {proc.stderr[-3000:]}"
        return json.loads(proc.stdout.strip().splitlines()[-1]), events.read_text().split("\n"), venv

    def versions(venv: Path) -> dict:
        code = "import json; from importlib.metadata import version as v; print(json.dumps({n: v(n) for n in " \
               "['demo-core', 'demo-app', 'demo-nodeps', 'torch']}))"
        return json.loads(subprocess.run([str(venv / "bin" / "python"), "-c", code], capture_output=True,
                                         text=True, check=True).stdout)

    no_index = (tmp_path / "no-index").as_uri()
    first, events, venv = runtime(names[0], str(vtx_wheel), index)
    assert first["origin"] == "index, into the wheel cache" and "flush" in events
    assert (store / "vtx" / "VTX_SOURCE").read_text().strip() == str(vtx_wheel)
    caches = list((store / "vtx" / "wheels").iterdir())
    assert len(caches) == 1 and {p.name.split("-")[0] for p in caches[0].glob("*.whl")} == {"demo_app", "demo_nodeps"}
    timings = {names[0]: first["seconds"]}
    for name in names[1:]:
        later, events, venv = runtime(name, "", no_index)  # the index is gone: the cache alone must do
        assert later["origin"] == "wheel cache", name
        assert versions(venv) == {"demo-core": "1.0", "demo-app": "1.0", "demo-nodeps": "1.0", "torch": "9.9.0+cu999"}
        assert "flush" in events
        timings[name] = later["seconds"]
    print("setup seconds per runtime:", timings)
    assert max(timings[n] for n in names[1:]) < 60
    again, _, _ = runtime(names[-1], "", no_index, venv=venv)  # the same runtime, notebook run again
    assert again["origin"] == "already installed"


@pytest.mark.slow
def test_unticked_use_drive_never_mounts_drive(tmp_path):
    """USE_DRIVE=False: the setup cell neither mounts Drive nor reads the saved source from it."""
    nbformat = require("nbformat", extra="notebooks")
    fake = tmp_path / "fake-colab"
    for name, text in FAKE_COLAB.items():
        (fake / name).parent.mkdir(parents=True, exist_ok=True)
        (fake / name).write_text(text)
    cell = next(c.source for c in nbformat.read(ROOT / "notebooks" / "01_acquire.ipynb", as_version=4).cells
                if c.cell_type == "code").split("from vtxlib import notebook as nb")[0]
    events = tmp_path / "events.txt"
    store = tmp_path / "store"
    (store / "vtx").mkdir(parents=True)
    (store / "vtx" / "VTX_SOURCE").write_text(str(tmp_path / "saved-source.whl"))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VTX_SOURCE")}
    env.update(FAKE_EVENTS=str(events), FAKE_DRIVE_STORE=str(store), VTX_DRIVE_MOUNT=str(tmp_path / "content"))

    def run_cell(use_drive: bool) -> tuple[str, str]:
        events.write_text("")
        script = tmp_path / "cell.py"
        script.write_text(f"import sys; sys.path.insert(0, {str(fake)!r})\n"
                          + cell.replace("USE_DRIVE = True  # @param", f"USE_DRIVE = {use_drive}  # @param", 1))
        proc = subprocess.run([sys.executable, "-I", "-S", str(script)], capture_output=True, text=True,
                              cwd=tmp_path, env=env, timeout=60)
        return events.read_text(), proc.stderr.strip().splitlines()[-1]

    events_on, error_on = run_cell(True)  # ticked: Drive mounted, the source saved there is used
    assert "mount" in events_on and "saved-source.whl" in error_on
    events_off, error_off = run_cell(False)
    assert "mount" not in events_off
    assert "vtxlib is missing: set VTX_SOURCE" in error_off  # the saved source on Drive was not read


def test_only_the_loaded_part_of_a_namespace_and_no_installer_is_pinned():
    """Colab has google.auth imported: google-auth is kept, but google-genai (also under google.) is
    free to be installed; setuptools' start-up shim (_distutils_hack) pins nothing."""
    versions = colab_install.installed_versions()
    kept = colab_install.imported_distributions(versions, {"google", "google.auth", "numpy", "_distutils_hack"})
    assert kept == {"google-auth": version("google-auth"), "numpy": version("numpy")}


def _fake_colab(folder: Path) -> Path:
    for name, text in FAKE_COLAB.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return folder


def test_a_token_comes_from_a_colab_secret_as_a_git_header_never_from_the_source(tmp_path):
    """A token typed into VTX_SOURCE is refused (the form is saved in the notebook); the secret
    VTX_SOURCE_TOKEN reaches git as a header for that host, and the failure message has no token."""
    nbformat = require("nbformat", extra="notebooks")
    token = "ghp_SECRETtoken0123456789abcdef"
    fake = _fake_colab(tmp_path / "fake-colab")
    cell = next(c.source for c in nbformat.read(ROOT / "notebooks" / "02_transcribe.ipynb", as_version=4).cells
                if c.cell_type == "code").split("import logging")[0]
    (tmp_path / "events.txt").write_text("")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VTX_SOURCE")}
    env.update(FAKE_EVENTS=str(tmp_path / "events.txt"), FAKE_DRIVE_STORE=str(tmp_path / "store"),
               VTX_DRIVE_MOUNT=str(tmp_path / "content"), FAKE_USERDATA=json.dumps({"VTX_SOURCE_TOKEN": token}))
    (tmp_path / "store").mkdir()

    def run_cell(source: str) -> str:
        filled = cell.replace('VTX_SOURCE = ""  # @param', f"VTX_SOURCE = {source!r}  # @param", 1)
        script = tmp_path / "cell.py"
        script.write_text("\n".join([
            "import base64, os, sys",
            f"sys.path.insert(0, {str(fake)!r})",
            "try:",
            f"    exec({filled!r})",
            "except RuntimeError as e:",
            "    print('ERROR', e)",
            "value = os.environ.get('GIT_CONFIG_VALUE_0', '').rpartition(' ')[2]",
            "print('HEADER', os.environ.get('GIT_CONFIG_KEY_0'), base64.b64decode(value).decode())",
            ""]))
        proc = subprocess.run([sys.executable, "-I", "-S", str(script)], capture_output=True, text=True,
                              cwd=tmp_path, env=env, timeout=60)
        return proc.stdout + proc.stderr

    typed = run_cell(f"git+https://{token}@127.0.0.1:9/me/vtx.git")
    assert "VTX_SOURCE holds a user or token" in typed and "VTX_SOURCE_TOKEN" in typed
    assert "HEADER None" in typed  # refused before anything was set up
    from_secret = run_cell("git+https://127.0.0.1:9/me/vtx.git")
    error = next(line for line in from_secret.splitlines() if line.startswith("ERROR"))
    assert "pip could not install" in error and token not in error
    header = next(line for line in from_secret.splitlines() if line.startswith("HEADER"))
    assert header == f"HEADER http.https://127.0.0.1:9/.extraHeader x-access-token:{token}"


def test_unticked_use_drive_keeps_the_workspace_off_drive_in_every_notebook(monkeypatch, tmp_path):
    from vtxlib.notebook import drive

    monkeypatch.setattr(drive, "in_colab", lambda: True)
    monkeypatch.setattr(drive, "mount_drive", lambda *a, **k: pytest.fail("Drive mounted"))
    monkeypatch.setenv("VTX_USE_DRIVE", "0")  # what the setup cell sets when USE_DRIVE is unticked
    assert drive.workspace_root("", use_drive=True) == drive.COLAB_LOCAL_ROOT
