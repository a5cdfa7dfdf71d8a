"""Install vtx's Colab requirements into a running Colab kernel without breaking it.

Standard library only: the notebooks' setup cell imports this right after vtxlib itself arrives
(``pip install --no-deps $VTX_SOURCE``), before any of vtx's dependencies exist.

What it guarantees on Colab:

* Colab's torch, torchaudio, torchvision and torchcodec (CUDA builds matched to the driver) are never
  touched: every pip call gets a constraints file pinning the installed versions, read from
  ``importlib.metadata`` at run time, so pip fails loudly rather than replace them.
* Every distribution whose module the kernel has already imported (Colab imports numpy, packaging and
  google.auth before the first cell) is pinned the same way, so the runtime does not restart. Only if
  the requirements cannot be met that way does the install go on without those pins and restart the
  runtime, the way Colab's own "Restart session" button does (``os.kill(os.getpid(), 9)``); elsewhere
  it raises one line.
* ``requirements-colab-nodeps.txt`` (beside the requirements) is installed afterwards with ``--no-deps``:
  packages whose declared dependencies would change an imported module although they run without.
* pip's own output is shown line by line as it runs.
* Wheels are kept on Drive (``MyDrive/vtx/wheels/<python>-<torch>-<requirements digest>``): the first
  notebook builds them, later runtimes install from there with ``--no-index`` (seconds); a cache that
  lacks something is topped up from the index, and folders of other requirements are removed.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata as metadata
import importlib.util
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Optional

from .errors import InputError, VtxError
from .workspace import COLAB_DRIVE_MOUNT, COLAB_DRIVE_ROOT

log = logging.getLogger("vtxlib.colab_install")

REQUIREMENTS_NAME = "requirements-colab.txt"
NODEPS_NAME = "requirements-colab-nodeps.txt"  # beside it: installed with --no-deps
#: Colab's CUDA builds: pinned to the installed versions in every pip call
TORCH_FAMILY = ("torch", "torchaudio", "torchvision", "torchcodec")
#: where Colab mounts Drive (VTX_DRIVE_MOUNT moves it: the tests' fake Drive)
DRIVE_MOUNT_POINT = os.environ.get("VTX_DRIVE_MOUNT", str(COLAB_DRIVE_MOUNT))
WHEEL_CACHE_ROOT = Path(DRIVE_MOUNT_POINT) / COLAB_DRIVE_ROOT.relative_to(COLAB_DRIVE_MOUNT) / "wheels"
WHEEL_CACHE_NAME = re.compile(r"^py\d+-torch.+-[0-9a-f]{12}$")  # a folder wheel_cache_dir names
ENV_WHEEL_CACHE = "VTX_WHEEL_CACHE"  # a folder, or "off"
#: a successful install is stamped here (outside Drive: it lives as long as the VM, across restarts)
STAMP_DIR = Path(tempfile.gettempdir()) / "vtx-colab-install"
SOURCE_HELP = ("set VTX_SOURCE in the setup cell's form (or the VTX_SOURCE Colab secret or environment "
               "variable) to git+https://github.com/<you>/vtx (a private one: its token in the Colab secret "
               "VTX_SOURCE_TOKEN), a vtxlib .whl or a .zip of the repository on Drive "
               "(/content/drive/MyDrive/...), or a folder holding the repository")

Echo = Callable[[str], None]


class RestartRequired(VtxError):
    """Packages the kernel had already imported changed on disk: the kernel must restart."""


def in_colab() -> bool:
    """True inside a Google Colab runtime."""
    if "google.colab" in sys.modules or os.environ.get("COLAB_RELEASE_TAG"):
        return True
    try:
        return importlib.util.find_spec("google.colab") is not None
    except (ImportError, ValueError):
        return False


def _stdout(line: str) -> None:
    # pip's output is the progress the user watches, shown as `!pip` would show it
    sys.stdout.write(line if line.endswith("\n") else line + "\n")
    sys.stdout.flush()


# -- what is installed ---------------------------------------------------------------------------
def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_versions() -> dict[str, str]:
    """Every installed distribution, canonical name -> version, read from disk now."""
    importlib.invalidate_caches()
    versions = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            versions.setdefault(canonical(name), dist.version)
    return versions


def runtime_constraints(versions: Optional[dict[str, str]] = None) -> list[str]:
    """``torch==2.11.0+cu128``-style pins for the torch family as installed (local label included)."""
    versions = installed_versions() if versions is None else versions
    return [f"{name}=={versions[name]}" for name in TORCH_FAMILY if name in versions]


#: installers whose modules are imported at start-up only as inert shims (setuptools' _distutils_hack):
#: changing them on disk never needs a restart, and pinning them would block needed upgrades
NO_RESTART = ("pip", "setuptools", "wheel")


def imported_distributions(versions: dict[str, str], modules: Optional[Iterable[str]] = None) -> dict[str, str]:
    """Installed distributions that provide a module the kernel has imported: name -> version. A
    namespace package (``google``) counts only for the distributions whose own part is loaded
    (``google.auth`` -> google-auth, not google-genai)."""
    loaded = set(sys.modules if modules is None else modules)
    providers = metadata.packages_distributions()
    found = {}
    for top in sorted({m.split(".", 1)[0] for m in loaded}):
        dists = providers.get(top, [])
        for dist in dists:
            name = canonical(dist)
            if name not in versions or name in TORCH_FAMILY or name in NO_RESTART or name == "vtxlib":
                continue
            if len(dists) > 1 and not (modules_of(dist) - {top}) & loaded:
                continue  # shares a namespace with a loaded package but is not loaded itself
            found[name] = versions[name]
    return found


def modules_of(distribution: str) -> set[str]:
    """Import names a distribution provides (packages and top-level modules), from its file list."""
    try:
        files = metadata.distribution(distribution).files or []
    except metadata.PackageNotFoundError:
        return set()
    names = set()
    for path in files:
        parts = path.parts
        if not parts or parts[0].endswith((".dist-info", ".data", ".egg-info")) or parts[0] == "..":
            continue
        if parts[-1] == "__init__.py":
            names.add(".".join(parts[:-1]))
        elif len(parts) == 1 and path.suffix in (".py", ".so", ".pyd"):
            names.add(path.name.split(".", 1)[0])  # _cffi_backend.cpython-313-x86_64-linux-gnu.so
    return names


def changed_imports(before: dict[str, str], after: dict[str, str],
                    modules: Optional[Iterable[str]] = None) -> dict[str, tuple[str, str]]:
    """Distributions whose version changed (or vanished) and that provide an already-imported module."""
    loaded = set(sys.modules if modules is None else modules)
    changed = {}
    for name, old in before.items():
        new = after.get(name, "removed")
        if new != old and name not in NO_RESTART and (modules_of(name) or {name.replace("-", "_")}) & loaded:
            changed[name] = (old, new)
    return changed


# -- where requirements-colab.txt comes from ------------------------------------------------------
def requirements_file(source: str = "", work_dir: Path = Path("/content/vtx-source"),
                      package_root: Path = Path(__file__).resolve().parents[1]) -> Path:
    """requirements-colab.txt of the vtx copy in use: next to an imported repository checkout, or
    taken from VTX_SOURCE (a folder, a .zip of the repository, a wheel with the file beside it, or a
    git URL, shallow-cloned)."""
    beside_package = package_root / REQUIREMENTS_NAME
    if beside_package.is_file():
        return beside_package
    source = (source or os.environ.get("VTX_SOURCE", "")).strip()
    if not source:
        raise InputError(f"vtx's {REQUIREMENTS_NAME} was not found: {SOURCE_HELP}")
    path = Path(source).expanduser()
    if path.is_dir():
        found = path / REQUIREMENTS_NAME
    elif path.suffix == ".zip" and path.is_file():
        found = _from_zip(path, work_dir)
    elif path.suffix == ".whl":
        found = path.with_name(REQUIREMENTS_NAME)
    elif re.match(r"^(git\+)?(https?|ssh|git|file)://", source) or source.endswith(".git"):
        found = _clone(source, work_dir) / REQUIREMENTS_NAME
    else:
        raise InputError(f"VTX_SOURCE={source!r} is neither a folder, a .zip, a .whl nor a git URL: "
                         f"{SOURCE_HELP}")
    if not found.is_file():
        where = "beside the wheel" if path.suffix == ".whl" else "in it"
        raise InputError(f"VTX_SOURCE={source!r} has no {REQUIREMENTS_NAME} {where}: copy the "
                         f"repository's {REQUIREMENTS_NAME} there")
    return found


def _from_zip(archive: Path, work_dir: Path) -> Path:
    with zipfile.ZipFile(archive) as zf:
        members = sorted((m for m in zf.namelist() if m.rsplit("/", 1)[-1] == REQUIREMENTS_NAME),
                         key=lambda m: m.count("/"))
        if not members:
            return work_dir / "missing" / REQUIREMENTS_NAME
        work_dir.mkdir(parents=True, exist_ok=True)
        target = work_dir / REQUIREMENTS_NAME
        target.write_bytes(zf.read(members[0]))
        return target


def _clone(url: str, work_dir: Path) -> Path:
    url = url[4:] if url.startswith("git+") else url
    head, _, ref = url.rpartition("@")
    if not (head and "/" in head.split("://", 1)[-1]):  # that "@" was ssh's user@host, not @ref
        head, ref = url, ""
    url = head
    if not (work_dir / ".git").is_dir():
        cmd = ["git", "clone", "-q", "--depth", "1", *(["--branch", ref] if ref else []), url, str(work_dir)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            lines = proc.stderr.strip().splitlines()
            last = redact_url(lines[-1] if lines else f"exit {proc.returncode}")
            raise InputError(f"git clone {redact_url(url)} failed ({last}): {SOURCE_HELP}")
    return work_dir


_USERINFO = re.compile(r"(://)[^/@\s]+@")


def redact_url(text: str) -> str:
    """TEXT with the user/token part of every URL in it replaced by ``***``."""
    return _USERINFO.sub(r"\1***@", text)


# -- pip -------------------------------------------------------------------------------------------
def pip_install_command(requirements: Path, constraints: Path, find_links: Optional[Path] = None,
                        no_index: bool = False, extra: Iterable[str] = ()) -> list[str]:
    cmd = [sys.executable, "-m", "pip", "install", "--progress-bar", "off", "-r", str(requirements),
           "-c", str(constraints)]
    if find_links is not None:
        cmd += ["--find-links", str(find_links)]
    if no_index:
        cmd.append("--no-index")
    return cmd + list(extra)


def run_pip(cmd: list[str], echo: Echo = _stdout) -> int:
    """Run pip, passing each line of its output to ECHO as it comes; returns pip's exit code."""
    echo("$ " + " ".join(Path(cmd[0]).name if i == 0 else part for i, part in enumerate(cmd)))
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
                            env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    assert proc.stdout is not None
    for line in proc.stdout:
        echo(line.rstrip("\n"))
    return proc.wait()


def requirements_digest(requirements: Path) -> str:
    """sha256 of the requirements and the --no-deps list beside them (12 hex digits)."""
    nodeps = requirements.with_name(NODEPS_NAME)
    data = requirements.read_bytes() + b"\0" + (nodeps.read_bytes() if nodeps.is_file() else b"")
    return hashlib.sha256(data).hexdigest()[:12]


def wheel_cache_dir(root: Path, versions: Optional[dict[str, str]] = None,
                    requirements: Optional[Path] = None) -> Path:
    """One folder per Python, torch build and requirements digest: a new Colab image or edited
    requirements start a fresh cache (and :func:`prune_wheel_caches` removes the old one)."""
    versions = installed_versions() if versions is None else versions
    digest = requirements_digest(requirements) if requirements is not None else "0" * 12
    tag = f"py{sys.version_info.major}{sys.version_info.minor}-torch{versions.get('torch', 'none')}-{digest}"
    return root / re.sub(r"[^A-Za-z0-9_.+-]", "_", tag)


def prune_wheel_caches(keep: Path, echo: Echo = _stdout) -> list[Path]:
    """Remove the sibling cache folders of KEEP (other requirements or images); returns them."""
    removed = []
    for folder in sorted(keep.parent.iterdir()) if keep.parent.is_dir() else []:
        if folder != keep and folder.is_dir() and WHEEL_CACHE_NAME.match(folder.name):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    if removed:
        echo(f"removed {len(removed)} old wheel cache folder(s): {', '.join(f.name for f in removed)}")
    return removed


def cached_pins(cache: Path) -> set[str]:
    """``name==version`` of every wheel in CACHE (from the file names)."""
    pins = set()
    for wheel in cache.glob("*.whl"):
        parts = wheel.name.split("-")
        if len(parts) >= 2:
            pins.add(f"{canonical(parts[0])}=={parts[1]}")
    return pins


def fill_wheel_cache(requirements: Path, constraints: Path, cache: Path, echo: Echo = _stdout,
                     run: Callable[[list[str], Echo], int] = run_pip) -> int:
    """Resolve against what is installed (``--dry-run --report``), then ``pip wheel --no-deps`` exactly
    the distributions an install would add into CACHE. Returns how many it was asked to build."""
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        code = run(pip_install_command(requirements, constraints, find_links=cache,
                                       extra=["--dry-run", "--quiet", "--report", str(report)]), echo)
        if code != 0:
            raise VtxError(f"pip could not resolve {requirements.name} (exit {code}); see its output above")
        wanted = [f"{item['metadata']['name']}=={item['metadata']['version']}"
                  for item in json.loads(report.read_text())["install"]
                  if canonical(item["metadata"]["name"]) not in TORCH_FAMILY]
        wanted += nodeps_requirements(requirements)
        have = cached_pins(cache)
        wanted = [w for w in wanted if f"{canonical(w.split('==')[0])}=={w.split('==', 1)[-1]}" not in have]
        if not wanted:
            return 0
        pins = Path(tmp) / "wanted.txt"
        pins.write_text("\n".join(wanted) + "\n")
        code = run([sys.executable, "-m", "pip", "wheel", "--progress-bar", "off", "--no-deps",
                    "--find-links", str(cache), "-w", str(cache), "-r", str(pins)], echo)
        if code != 0:
            raise VtxError(f"pip wheel into {cache} failed (exit {code}); see its output above")
    return len(wanted)


def nodeps_requirements(requirements: Path) -> list[str]:
    """The requirement lines of the --no-deps list beside REQUIREMENTS (none when it is absent)."""
    nodeps = requirements.with_name(NODEPS_NAME)
    if not nodeps.is_file():
        return []
    lines = (line.split("#", 1)[0].strip() for line in nodeps.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line]


@dataclass
class InstallResult:
    installed: bool  # pip ran (or a stamp showed the same requirements were installed this VM)
    origin: str  # "wheel cache", "wheel cache (topped up)", "index", "already installed", "not on Colab"
    changed: dict[str, tuple[str, str]] = field(default_factory=dict)  # imported dists that changed
    wheel_cache: Optional[str] = None
    seconds: float = 0.0

    def describe(self) -> str:
        if self.origin == "not on Colab":
            return "not on Colab: nothing installed (install vtx locally with pip install -e '.[cpu,notebooks]')"
        where = f" (wheel cache {self.wheel_cache})" if self.wheel_cache else ""
        took = f" in {self.seconds:.0f} s" if self.seconds else ""
        return f"{REQUIREMENTS_NAME}: {self.origin}{where}{took}"


def _stamp(requirements: Path, constraints: list[str]) -> Path:
    data = requirements_digest(requirements) + "\n" + "\n".join(constraints)
    digest = hashlib.sha256(data.encode()).hexdigest()[:16]
    return STAMP_DIR / f"installed-{digest}"


def _write_constraints(pins: list[str]) -> Path:
    with tempfile.NamedTemporaryFile("w", suffix=".txt", prefix="colab-pins-", delete=False) as handle:
        handle.write("\n".join(pins) + "\n")
    return Path(handle.name)


def _install_nodeps(requirements: Path, constraints: Path, wheel_cache: Optional[Path], echo: Echo,
                    run: Callable[[list[str], Echo], int]) -> None:
    nodeps = requirements.with_name(NODEPS_NAME)
    if not nodeps_requirements(requirements):
        return
    if wheel_cache is not None and wheel_cache.is_dir():
        cmd = pip_install_command(nodeps, constraints, find_links=wheel_cache, no_index=True, extra=["--no-deps"])
        if run(cmd, echo) == 0:
            return
    code = run(pip_install_command(nodeps, constraints, find_links=wheel_cache, extra=["--no-deps"]), echo)
    if code != 0:
        raise VtxError(f"pip install --no-deps -r {nodeps} failed (exit {code}); see pip's output above")


def _install_through_cache(requirements: Path, constraints: Path, wheel_cache: Path, echo: Echo,
                           run: Callable[[list[str], Echo], int]) -> Optional[str]:
    """Install from the Drive wheel cache (filling or topping it up first); None when unusable."""
    try:
        if any(wheel_cache.glob("*.whl")):
            if run(pip_install_command(requirements, constraints, find_links=wheel_cache, no_index=True), echo) == 0:
                return "wheel cache"
            echo("the wheel cache lacks something: topping it up from the package index")
            origin = "wheel cache (topped up)"
        else:
            echo(f"building the wheel cache {wheel_cache} (once; later runtimes install from it)")
            origin = "index, into the wheel cache"
        fill_wheel_cache(requirements, constraints, wheel_cache, echo, run)
        if run(pip_install_command(requirements, constraints, find_links=wheel_cache, no_index=True), echo) == 0:
            return origin
    except (OSError, VtxError) as e:  # a full or read-only Drive must not stop the install
        echo(f"wheel cache unusable ({e})")
    echo("installing from the package index instead")
    return None


def _install_once(requirements: Path, pins: list[str], wheel_cache: Optional[Path], echo: Echo,
                  run: Callable[[list[str], Echo], int]) -> tuple[int, str]:
    constraints = _write_constraints(pins)
    origin = _install_through_cache(requirements, constraints, wheel_cache, echo, run) if wheel_cache else None
    if origin is None:
        code = run(pip_install_command(requirements, constraints, find_links=wheel_cache
                                       if wheel_cache is not None and wheel_cache.is_dir() else None), echo)
        if code != 0:
            return code, "index"
        origin = "index"
    _install_nodeps(requirements, constraints, wheel_cache, echo, run)
    return 0, origin


def install_requirements(requirements: Path, wheel_cache: Optional[Path] = None, echo: Echo = _stdout,
                         run: Callable[[list[str], Echo], int] = run_pip,
                         restart: Optional[Callable[[], None]] = None,
                         modules: Optional[Iterable[str]] = None) -> InstallResult:
    """pip install REQUIREMENTS with the torch family and every already-imported distribution pinned,
    through WHEEL_CACHE when given, then the ``--no-deps`` list beside it.

    Only when the requirements cannot be met with the imported distributions kept does it install
    without those pins; a distribution of an already-imported module that then changed version calls
    RESTART (Colab: kill the kernel, which Colab restarts) or raises :class:`RestartRequired`.
    """
    started = time.perf_counter()
    before = installed_versions()
    pins = runtime_constraints(before)
    stamp = _stamp(requirements, pins)
    if stamp.is_file():
        log.info("%s already installed in this runtime (%s): pip not run", requirements.name, stamp)
        return InstallResult(installed=True, origin="already installed")
    kept = imported_distributions(before, modules)
    code, origin = _install_once(requirements, pins + [f"{n}=={v}" for n, v in sorted(kept.items())],
                                 wheel_cache, echo, run)
    if code != 0 and kept:
        echo(f"the requirements cannot keep the kernel's imported {', '.join(sorted(kept))} at their versions: "
             f"installing without those pins (the runtime will restart once)")
        code, origin = _install_once(requirements, pins, wheel_cache, echo, run)
    if code != 0:
        raise VtxError(f"pip install -r {requirements} failed (exit {code}); see pip's output above")
    after = installed_versions()
    torch_changed = {n: (before.get(n), after.get(n)) for n in TORCH_FAMILY if before.get(n) != after.get(n)}
    if torch_changed:  # cannot happen with the pins; a loud stop rather than a broken CUDA stack
        raise VtxError(f"the install changed Colab's torch family {torch_changed}: factory-reset the runtime")
    if wheel_cache is not None and origin != "index":
        prune_wheel_caches(wheel_cache, echo)
    STAMP_DIR.mkdir(parents=True, exist_ok=True)
    stamp.touch()
    changed = changed_imports(before, after, modules)
    result = InstallResult(installed=True, origin=origin, changed=changed,
                           wheel_cache=str(wheel_cache) if wheel_cache else None,
                           seconds=round(time.perf_counter() - started, 1))
    if changed:
        what = ", ".join(f"{name} {old} -> {new}" for name, (old, new) in sorted(changed.items()))
        message = f"already-imported packages changed on disk ({what})"
        if restart is None:
            raise RestartRequired(f"{message}: restart the kernel, then run this cell again")
        echo(f"{message}: restarting the runtime now; when it is back, run this cell again "
             f"(nothing will be reinstalled)")
        restart()
    return result


def restart_colab_runtime() -> None:
    """Colab's own way to restart a session: the kernel process dies and Colab starts a new one."""
    sys.stdout.flush()
    time.sleep(2)  # let the last line reach the browser before the kernel dies
    os.kill(os.getpid(), signal.SIGKILL)


# -- Drive --------------------------------------------------------------------------------------------
def drive_wanted() -> bool:
    """False when the setup cell's USE_DRIVE is unticked (``VTX_USE_DRIVE=0``): nothing mounts Drive."""
    return os.environ.get("VTX_USE_DRIVE", "1").strip().lower() not in ("0", "false", "no", "off")


def _colab_wheel_cache(echo: Echo, requirements: Path) -> Optional[Path]:
    setting = os.environ.get(ENV_WHEEL_CACHE, "").strip()
    if setting.lower() in ("off", "0", "no", "false"):
        return None
    if setting:
        return wheel_cache_dir(Path(setting).expanduser(), requirements=requirements)
    if not drive_wanted():
        echo("USE_DRIVE is off: no wheel cache, installing from the package index")
        return None
    if not Path(DRIVE_MOUNT_POINT, "MyDrive").is_dir():
        try:
            from google.colab import drive  # type: ignore

            drive.mount(DRIVE_MOUNT_POINT)
        except Exception as e:  # Colab's helper raises plain exceptions (refused consent, timeout)
            echo(f"Drive not mounted ({e}): no wheel cache, installing from the package index")
            return None
    return wheel_cache_dir(WHEEL_CACHE_ROOT, requirements=requirements)


def flush_drive(mount_point: str = DRIVE_MOUNT_POINT, echo: Echo = _stdout) -> bool:
    """Write Drive's pending changes through (Colab's ``drive.flush_and_unmount``), so the next
    runtime sees what this one wrote. False (and nothing done) when Drive is not mounted here."""
    if not (in_colab() and Path(mount_point, "MyDrive").is_dir()):
        return False
    from google.colab import drive  # type: ignore

    drive.flush_and_unmount()
    echo("Drive flushed and unmounted: everything this runtime wrote is on Drive")
    return True


def setup_runtime(source: str = "", echo: Echo = _stdout, colab: Optional[bool] = None) -> InstallResult:
    """The setup cell's one call: on Colab, install requirements-colab.txt (Drive wheel cache, torch
    and imported modules kept); elsewhere nothing."""
    if not (in_colab() if colab is None else colab):
        return InstallResult(installed=False, origin="not on Colab")
    requirements = requirements_file(source)
    return install_requirements(requirements, wheel_cache=_colab_wheel_cache(echo, requirements), echo=echo,
                                restart=restart_colab_runtime)


__all__ = ["InstallResult", "RestartRequired", "TORCH_FAMILY", "changed_imports", "drive_wanted",
           "fill_wheel_cache", "flush_drive", "imported_distributions", "in_colab", "install_requirements",
           "installed_versions", "modules_of", "pip_install_command", "prune_wheel_caches", "redact_url",
           "requirements_digest", "requirements_file", "restart_colab_runtime", "run_pip", "runtime_constraints",
           "setup_runtime", "wheel_cache_dir"]
