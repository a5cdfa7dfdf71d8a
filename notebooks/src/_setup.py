# The setup cell every notebook starts with (each Colab notebook is a new runtime); tools/make_notebooks.py
# puts it where a source has its "# vtx-setup-cell" placeholder cell.
# @title Setup: vtxlib and its packages (first time on Colab: set VTX_SOURCE, see docs/notebooks.md)
VTX_SOURCE = ""  # @param {type:"string"}
USE_DRIVE = True  # @param {type:"boolean"}
import importlib.util, os, pathlib, re, subprocess, sys

_here = pathlib.Path.cwd()
_repo = next((p for p in (_here, *_here.parents) if (p / "vtxlib" / "colab_install.py").is_file()), None)
if _repo is not None and str(_repo) not in sys.path:
    sys.path.insert(0, str(_repo))  # opened inside a repository: its own vtxlib, even if another is installed
os.environ["VTX_USE_DRIVE"] = "1" if USE_DRIVE else "0"  # every later Drive use in this runtime follows it
try:
    _colab = importlib.util.find_spec("google.colab") is not None
except ImportError:  # no "google" package at all
    _colab = False
_drive = pathlib.Path(os.environ.get("VTX_DRIVE_MOUNT", "/content/drive"))
_saved = _drive / "MyDrive" / "vtx" / "VTX_SOURCE"  # written by the first notebook that installed vtx


def _secret(name):  # a Colab secret (key icon in the sidebar), or None
    try:
        from google.colab import userdata
        return (userdata.get(name) or "").strip() or None
    except Exception:
        return None


if _colab and USE_DRIVE and not (_drive / "MyDrive").is_dir():
    from google.colab import drive
    drive.mount(str(_drive))
VTX_SOURCE = (VTX_SOURCE.strip() or os.environ.get("VTX_SOURCE", "").strip()
              or (_secret("VTX_SOURCE") if _colab else None)
              or (_saved.read_text().strip() if USE_DRIVE and _saved.is_file() else ""))
if importlib.util.find_spec("vtxlib") is None:
    if not VTX_SOURCE:
        raise RuntimeError("vtxlib is missing: set VTX_SOURCE in this cell's form to git+https://github.com/"
                           "<you>/vtx, a vtxlib .whl or a .zip of the repository on Drive, or a folder")
    if re.match(r"^(git\+)?https?://[^/]*@", VTX_SOURCE):
        raise RuntimeError("VTX_SOURCE holds a user or token: clear it from the form (it is saved in the "
                           "notebook) and put the token in the Colab secret VTX_SOURCE_TOKEN instead")
    _token = _secret("VTX_SOURCE_TOKEN")
    _host = re.match(r"^(?:git\+)?(https://[^/]+/)", VTX_SOURCE)
    if _token and _host:  # sent by git as a header to that host only; never part of a URL or a message
        import base64
        os.environ.update(GIT_CONFIG_COUNT="1", GIT_CONFIG_KEY_0=f"http.{_host.group(1)}.extraHeader",
                          GIT_CONFIG_VALUE_0="Authorization: Basic "
                          + base64.b64encode(f"x-access-token:{_token}".encode()).decode())
    if VTX_SOURCE.startswith(str(_drive)) and not (_drive / "MyDrive").is_dir():
        from google.colab import drive
        drive.mount(str(_drive))
    _pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", VTX_SOURCE],
                          capture_output=True, text=True)
    if _pip.returncode != 0:
        raise RuntimeError(f"pip could not install VTX_SOURCE={VTX_SOURCE}: "
                           + re.sub(r"://[^/@\s]+@", "://***@", (_pip.stderr.strip().splitlines() or ["?"])[-1]))
    if USE_DRIVE and (_drive / "MyDrive").is_dir() and VTX_SOURCE != (_saved.read_text().strip()
                                                                    if _saved.is_file() else ""):
        _saved.parent.mkdir(parents=True, exist_ok=True)
        _saved.write_text(VTX_SOURCE + "\n")  # later notebooks (new runtimes) read it from here
    os.environ["VTX_SOURCE"] = VTX_SOURCE  # this cell run again in this runtime finds it
    importlib.invalidate_caches()

import logging
logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
logging.getLogger("vtxlib").setLevel(logging.WARNING)  # warnings only: each stage run shows one summary line
from vtxlib.colab_install import setup_runtime
VTX_INSTALL = setup_runtime(VTX_SOURCE)  # Colab only: requirements-colab.txt with Colab's torch kept
from vtxlib import notebook as nb, widgets
