# The setup cell every notebook starts with (each Colab notebook is a new runtime); tools/make_notebooks.py
# puts it where a source has its "# vtx-setup-cell" placeholder cell.
# @title Setup: vtxlib and its packages (on Colab set VTX_SOURCE first: docs/notebooks.md)
VTX_SOURCE = ""  # @param {type:"string"}
import importlib.util, os, pathlib, subprocess, sys

_here = pathlib.Path.cwd()
_repo = next((p for p in (_here, *_here.parents) if (p / "vtxlib" / "colab_install.py").is_file()), None)
if _repo is not None and str(_repo) not in sys.path:
    sys.path.insert(0, str(_repo))  # opened inside a repository: its own vtxlib, even if another is installed
if importlib.util.find_spec("vtxlib") is None:
    VTX_SOURCE = VTX_SOURCE.strip() or os.environ.get("VTX_SOURCE", "").strip()
    if not VTX_SOURCE:
        raise RuntimeError("vtxlib is missing: set VTX_SOURCE in this cell's form to git+https://github.com/"
                           "<you>/vtx, a vtxlib .whl or a .zip of the repository on Drive, or a folder")
    if VTX_SOURCE.startswith("/content/drive/"):
        from google.colab import drive
        drive.mount("/content/drive")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", VTX_SOURCE], check=True)
    importlib.invalidate_caches()

import logging
logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
logging.getLogger("vtxlib").setLevel(logging.WARNING)  # warnings only: each stage run shows one summary line
from vtxlib.colab_install import setup_runtime
VTX_INSTALL = setup_runtime(VTX_SOURCE)  # Colab only: requirements-colab.txt with Colab's torch kept
from vtxlib import notebook as nb, widgets
