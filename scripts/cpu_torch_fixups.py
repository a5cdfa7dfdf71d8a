"""Make the GPU-tier libraries (NeMo, pyannote.audio, SpeechBrain) import on a CPU-only machine.

Run it with the environment's own interpreter after installing the GPU-tier packages::

    .venv/bin/python scripts/cpu_torch_fixups.py          # fix what is broken, report the rest
    .venv/bin/python scripts/cpu_torch_fixups.py --check  # report only, exit 1 if broken

What it handles:

* ``torchaudio``: the PyPI wheels (2.11.0, 2.11.1) are CUDA builds. On a machine without CUDA
  libraries ``import torchaudio`` fails with ``OSError: Could not load this library: .../lib/<ext>``
  (``libc10_cuda.so`` missing). torchaudio treats absent extension files as "extension not built" and
  falls back to its pure-PyTorch code, which is all the GPU tier uses here (transforms, resampling,
  kaldi fbank). So its compiled extensions are renamed to ``*.cpu-disabled``. They are recognised by
  what they are (ELF shared objects in ``torchaudio/lib``), not by a naming scheme: 2.11.0 named them
  ``*.abi3.so``, 2.11.1 ``*.so``. Renaming (not deleting) keeps the step reversible (``--restore``)
  and idempotent.
* ``torchcodec`` (audio decoding for pyannote.audio 4): 0.14+ wheels are CUDA-linked; 0.13.0 works
  with the system ffmpeg. This script only checks it and says which pin to install, because
  installing belongs to the install script (``pip install -c constraints.txt torchcodec==0.13.0``).

Everything is decided by trying the import in a child process, so on a machine where the CUDA
libraries are present (Colab) the imports work and the script changes nothing.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
from pathlib import Path

DISABLED_SUFFIX = ".cpu-disabled"
ELF_MAGIC = b"\x7fELF"
TORCHCODEC_PIN = "torchcodec==0.13.0"
TORCHCODEC_PROBE = ("import torchcodec\n"
                    "from torchcodec.decoders import AudioDecoder\n")


def try_import(code: str) -> tuple[bool, str]:
    """Run ``code`` in a fresh interpreter; return (ok, last line of stderr)."""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    return result.returncode == 0, (lines[-1] if lines else "")


def package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def is_shared_object(path: Path) -> bool:
    """True for an ELF file (a compiled extension or library), whatever its name."""
    try:
        with path.open("rb") as handle:
            return handle.read(4) == ELF_MAGIC
    except OSError:
        return False


def torchaudio_extension_files(pkg: Path) -> list[Path]:
    lib = pkg / "lib"
    if not lib.is_dir():
        return []
    return sorted(path for path in lib.iterdir()
                  if path.is_file() and not path.name.endswith(DISABLED_SUFFIX) and is_shared_object(path))


def is_extension_load_error(error: str) -> bool:
    """The import failed while loading a compiled library (not a Python-level problem)."""
    markers = ("could not load this library", "cannot open shared object", "libc10_cuda", ".so")
    return any(marker in error.lower() for marker in markers)


def disable_torchaudio_extension(pkg: Path) -> list[Path]:
    renamed = []
    for path in torchaudio_extension_files(pkg):
        target = path.with_name(path.name + DISABLED_SUFFIX)
        path.rename(target)
        renamed.append(target)
    return renamed


def restore_torchaudio_extension(pkg: Path) -> list[Path]:
    restored = []
    for path in sorted((pkg / "lib").glob("*" + DISABLED_SUFFIX)):
        target = path.with_name(path.name[: -len(DISABLED_SUFFIX)])
        path.rename(target)
        restored.append(target)
    return restored


def fix_torchaudio(check_only: bool) -> bool:
    pkg = package_dir("torchaudio")
    if pkg is None:
        print("torchaudio: not installed (nothing to do)")
        return True
    ok, error = try_import("import torchaudio")
    if ok:
        print("torchaudio: imports fine (nothing to do)")
        return True
    if not is_extension_load_error(error) or not torchaudio_extension_files(pkg):
        print(f"torchaudio: import fails for another reason, not touched: {error}")
        return False
    if check_only:
        print(f"torchaudio: broken CUDA extension on this CPU machine: {error}")
        return False
    renamed = disable_torchaudio_extension(pkg)
    ok, error = try_import("import torchaudio, torchaudio.compliance.kaldi, torchaudio.transforms")
    print(f"torchaudio: disabled {len(renamed)} CUDA-only extension file(s) -> "
          f"{'imports now' if ok else 'still failing: ' + error}")
    return ok


def check_torchcodec() -> bool:
    if importlib.util.find_spec("pyannote") is None or importlib.util.find_spec("pyannote.audio") is None:
        return True  # only pyannote.audio decodes files with it (the embedded CPU tier installs neither)
    if importlib.util.find_spec("torchcodec") is None:
        print("torchcodec: not installed (pyannote.audio 4 needs it to decode files; "
              f"vtxlib passes it waveforms, so this is optional) - pin {TORCHCODEC_PIN} on CPU")
        return True
    ok, error = try_import(TORCHCODEC_PROBE)
    if ok:
        print("torchcodec: loads fine")
        return True
    print(f"torchcodec: fails to load ({error}). On a CPU machine install "
          f"'{TORCHCODEC_PIN}' (0.14+ wheels need CUDA's libnvrtc) with the system ffmpeg present.")
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="report only; exit 1 if something is broken")
    parser.add_argument("--restore", action="store_true", help="undo the torchaudio rename")
    args = parser.parse_args(argv)
    if args.restore:
        pkg = package_dir("torchaudio")
        restored = restore_torchaudio_extension(pkg) if pkg else []
        print(f"torchaudio: restored {len(restored)} extension file(s)")
        return 0
    results = [fix_torchaudio(args.check), check_torchcodec()]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
