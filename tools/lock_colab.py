"""Resolve requirements-colab.txt against today's Colab image into locks/colab.txt.

    python tools/lock_colab.py            rewrite locks/colab.txt (needs the package registry)
    python tools/lock_colab.py --check    exit 1 when locks/colab.txt was made from other inputs

locks/colab-image.txt mirrors the Colab GPU runtime (Python 3.13, its torch family, the modules Colab
imports before the first cell). The resolution runs `uv pip compile --python-version 3.13` with those
pins as constraints (a pin marked ``restart:`` is left out: the install may change it, at the cost of a
runtime restart; today none is). PyPI's torch 2.11.0 is a CUDA 13 build while Colab's is +cu128, so
torch's CUDA 13 requirements are overridden with CUDA 12 ones (CUDA12_OVERRIDES). The packages of
requirements-colab-nodeps.txt (installed with --no-deps) are added as pinned there. The lock records
the digest of the inputs and the registry date it was resolved at (``--exclude-newer``), so rerunning
it gives the same pins. Colab's own torch family and its CUDA packages are resolved but not written:
the install never touches them.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = ROOT / "requirements-colab.txt"
NODEPS = ROOT / "requirements-colab-nodeps.txt"
IMAGE = ROOT / "locks" / "colab-image.txt"
LOCK = ROOT / "locks" / "colab.txt"
PYTHON_VERSION = "3.13"
PLATFORM = "x86_64-manylinux_2_28"
#: resolved (they constrain the rest) but never written or installed: Colab's CUDA builds stay
LEFT_TO_COLAB = re.compile(r"^(torch|torchaudio|torchvision|torchcodec|triton|nvidia-.*|cuda-toolkit)$")
#: Colab's torch is built with CUDA 12.8; PyPI's torch 2.11.0 (what the resolver sees) with CUDA 13
CUDA12_OVERRIDES = ("cuda-bindings>=12.8,<13",)
#: packages whose major version must match Colab's CUDA 12 torch (checked on the lock)
CUDA_PACKAGES = ("cuda-bindings", "cuda-python", "cuda-toolkit", "cuda-core")
_NETWORK_ERRORS = ("dns error", "error sending request", "failed to fetch", "connection refused",
                   "could not connect", "client error (connect)", "network is unreachable")


class RegistryUnreachable(RuntimeError):
    """The package registry could not be reached, so nothing was resolved."""


@dataclass(frozen=True)
class ImagePin:
    name: str
    spec: str  # the requirement as written, e.g. "numpy==2.1.3"
    imported: bool  # Colab imports it before the first cell
    restart: Optional[str]  # why our install may change it (None: it must keep Colab's version)

    def allows(self, version: str) -> bool:
        pinned = self.spec.split("==", 1)[1]
        return version == pinned or (pinned.endswith(".*") and version.startswith(pinned[:-1]))


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_image(path: Path = IMAGE) -> list[ImagePin]:
    pins = []
    for line in path.read_text(encoding="utf-8").splitlines():
        spec, _, note = (part.strip() for part in line.partition("#"))
        if not spec:
            continue
        restart = note.split("restart:", 1)[1].strip() if "restart:" in note else None
        pins.append(ImagePin(name=canonical(spec.split("==")[0]), spec=spec,
                             imported="imported" in note, restart=restart))
    return pins


def nodeps_pins(path: Path = NODEPS) -> dict[str, str]:
    """name -> version of requirements-colab-nodeps.txt (exact pins only)."""
    if not path.is_file():
        return {}
    text = re.sub(r"#.*", "", path.read_text(encoding="utf-8"))
    return {canonical(n): v for n, v in re.findall(r"^\s*([A-Za-z0-9_.\-]+)==(\S+)", text, re.M)}


def input_digest() -> str:
    data = REQUIREMENTS.read_bytes() + IMAGE.read_bytes() + (NODEPS.read_bytes() if NODEPS.is_file() else b"")
    return hashlib.sha256(data).hexdigest()[:16]


def find_uv() -> str:
    candidates = [os.environ.get("UV"), str(Path(sys.executable).with_name("uv")), shutil.which("uv")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return candidate
    raise FileNotFoundError("uv not found: install it (pip install uv) or set UV=/path/to/uv")


def resolve(exclude_newer: str, uv: Optional[str] = None, timeout: float = 120) -> dict[str, str]:
    """Every package (torch family included) the resolution picks, name -> version."""
    pins = read_image()
    with tempfile.TemporaryDirectory() as tmp:
        constraints = Path(tmp) / "colab-constraints.txt"
        constraints.write_text("".join(f"{p.spec}\n" for p in pins if p.restart is None), encoding="utf-8")
        overrides = Path(tmp) / "cuda12-overrides.txt"
        overrides.write_text("".join(f"{o}\n" for o in CUDA12_OVERRIDES), encoding="utf-8")
        out = Path(tmp) / "resolved.txt"
        cmd = [uv or find_uv(), "pip", "compile", str(REQUIREMENTS), "-c", str(constraints),
               "--override", str(overrides),
               "--python-version", PYTHON_VERSION, "--python-platform", PLATFORM,
               "--exclude-newer", exclude_newer, "--no-header", "--no-annotate", "--quiet", "-o", str(out)]
        env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
        if proc.returncode != 0:
            message = proc.stderr.strip()
            if any(marker in message.lower() for marker in _NETWORK_ERRORS):
                raise RegistryUnreachable(f"package registry unreachable: {message.splitlines()[-1]}")
            raise RuntimeError(f"requirements-colab.txt does not resolve on the Colab image:\n{message}")
        text = out.read_text(encoding="utf-8")
    resolved = {canonical(name): version for name, version in re.findall(r"^([A-Za-z0-9_.\-]+)==(\S+)", text, re.M)}
    return {**resolved, **nodeps_pins()}


def problems(resolved: dict[str, str], image: Optional[list[ImagePin]] = None) -> list[str]:
    """What the resolution changes that it must not, and "restart" marks that no longer apply."""
    found = []
    for pin in image if image is not None else read_image():
        version = resolved.get(pin.name)
        if version is None:
            continue  # not needed by requirements-colab.txt: Colab's stays
        if pin.restart is None and not pin.allows(version):
            found.append(f"{pin.name} {version} replaces Colab's {pin.spec}")
        elif pin.restart is not None and pin.allows(version):
            found.append(f"{pin.name} keeps Colab's {pin.spec}: drop its 'restart:' mark")
    for name in CUDA_PACKAGES:
        version = resolved.get(name)
        if version is not None and not LEFT_TO_COLAB.match(name) and int(version.split(".")[0]) != 12:
            found.append(f"{name} {version} is not a CUDA 12 build (Colab's torch is +cu128)")
    return found


def render(resolved: dict[str, str], exclude_newer: str) -> str:
    kept = sorted(n for n in resolved if LEFT_TO_COLAB.match(n))
    lines = ["# vtx Colab lock: generated by tools/lock_colab.py; do not edit",
             f"# input-digest: {input_digest()}",
             f"# exclude-newer: {exclude_newer}",
             f"# python: {PYTHON_VERSION} ({PLATFORM}); constraints: locks/colab-image.txt",
             "# installed with --no-deps (requirements-colab-nodeps.txt): "
             + ", ".join(f"{n}=={v}" for n, v in sorted(nodeps_pins().items())),
             "# left to Colab (resolved, never installed): "
             + ", ".join(f"{n}=={resolved[n]}" for n in kept)]
    lines += [f"{name}=={resolved[name]}" for name in sorted(resolved) if name not in kept]
    return "\n".join(lines) + "\n"


def lock_header(path: Path = LOCK) -> dict[str, str]:
    header = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("# "):
            break
        key, sep, value = line[2:].partition(": ")
        if sep:
            header[key] = value
    return header


def lock_pins(path: Path = LOCK) -> dict[str, str]:
    text = path.read_text(encoding="utf-8")
    return dict(re.findall(r"^([a-z0-9\-]+)==(\S+)$", text, re.M))


def unmet_requirements(pins: dict[str, str], path: Path = REQUIREMENTS) -> list[str]:
    """Lines of requirements-colab.txt that the locked pins do not satisfy (offline)."""
    from packaging.requirements import Requirement

    unmet = []
    for line in path.read_text(encoding="utf-8").splitlines():
        spec = line.split("#", 1)[0].strip()
        if not spec:
            continue
        requirement = Requirement(spec)
        name = canonical(requirement.name)
        version = pins.get(name)
        if version is None:
            unmet.append(f"{spec}: not in the lock")
        elif not requirement.specifier.contains(version, prereleases=True):
            unmet.append(f"{spec}: the lock has {name}=={version}")
    return unmet


def drift(resolved: dict[str, str], locked: dict[str, str]) -> list[str]:
    """How today's resolution differs from the lock, one line per package."""
    lines = []
    for name in sorted(set(resolved) | set(locked)):
        old, new = locked.get(name), resolved.get(name)
        if old != new:
            lines.append(f"{name}: locked {old or '-'}, resolves today to {new or '-'}")
    return lines


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if locks/colab.txt is stale (offline)")
    parser.add_argument("--drift", action="store_true",
                        help="re-resolve against the registry (network) and report how it differs from "
                             "locks/colab.txt; changes nothing (make lock-check)")
    parser.add_argument("--exclude-newer", default=date.today().isoformat(),
                        help="resolve as the registry was on this date (default: today)")
    args = parser.parse_args(argv)
    if args.check:
        if not LOCK.is_file() or lock_header().get("input-digest") != input_digest():
            sys.stderr.write("locks/colab.txt is stale: requirements-colab.txt, requirements-colab-nodeps.txt "
                             "or locks/colab-image.txt changed; run python tools/lock_colab.py\n")
            return 1
        return 0
    resolved = resolve(args.exclude_newer)
    if args.drift:
        written = {n: v for n, v in resolved.items() if not LEFT_TO_COLAB.match(n)}
        changes = drift(written, lock_pins())
        sys.stdout.write(f"locks/colab.txt against the registry as of {args.exclude_newer}: "
                         + (f"{len(changes)} differ\n  " + "\n  ".join(changes) if changes else "no drift")
                         + "\n")
        return 0
    found = problems(resolved)
    if found:
        sys.stderr.write("the resolution changes Colab's image:\n  " + "\n  ".join(found) + "\n")
        return 1
    LOCK.write_text(render(resolved, args.exclude_newer), encoding="utf-8")
    sys.stdout.write(f"locks/colab.txt: {len(lock_pins())} packages\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
