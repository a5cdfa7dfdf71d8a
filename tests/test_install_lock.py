"""The install is reproducible: the locks are current and hashed, and the CPU fix-up finds torchaudio's
compiled extensions by what they are."""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LOCKS = ("all", "cpu")


def load_fixups():
    spec = importlib.util.spec_from_file_location("cpu_torch_fixups", ROOT / "scripts" / "cpu_torch_fixups.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def lock_entries(name: str) -> dict[str, str]:
    text = (ROOT / "locks" / f"{name}.txt").read_text()
    return dict(re.findall(r"^([A-Za-z0-9_.\-]+)==(\S+) \\$", text, flags=re.M))


@pytest.mark.parametrize("name", LOCKS)
def test_lock_records_the_digest_of_the_current_inputs(name):
    current = subprocess.run(["bash", str(ROOT / "scripts" / "lock_digest.sh")], capture_output=True,
                             text=True, check=True).stdout.strip()
    header = (ROOT / "locks" / f"{name}.txt").read_text().splitlines()[:3]
    assert f"# input-digest: {current}" in header, (
        f"locks/{name}.txt is stale: pyproject.toml or constraints.txt changed; run scripts/lock.sh")


@pytest.mark.parametrize("name", LOCKS)
def test_every_locked_package_is_pinned_with_a_hash_and_torch_is_left_to_the_disk_wheel(name):
    text = (ROOT / "locks" / f"{name}.txt").read_text()
    entries = lock_entries(name)
    assert len(entries) > 50
    for package in entries:
        block = text.split(f"\n{package}==", 1)[1].split("\n", 3)
        assert "--hash=sha256:" in "\n".join(block), package
    assert "torch" not in entries and not any(p.startswith("nvidia-") for p in entries)


def test_cpu_lock_agrees_with_the_full_lock():
    full, cpu = lock_entries("all"), lock_entries("cpu")
    assert set(cpu) <= set(full)
    assert {p: v for p, v in cpu.items() if full[p] != v} == {}


def test_installed_environment_matches_the_lock():
    from importlib.metadata import PackageNotFoundError, version
    wrong = {}
    for package, pinned in lock_entries("all").items():
        try:
            installed = version(package)
        except PackageNotFoundError:
            installed = None
        if installed != pinned:
            wrong[package] = (pinned, installed)
    assert wrong == {}, "installed packages differ from locks/all.txt: run make install-all"


def test_fixup_finds_extensions_by_content_not_name(tmp_path):
    fixups = load_fixups()
    lib = tmp_path / "torchaudio" / "lib"
    lib.mkdir(parents=True)
    for name in ("_torchaudio.so", "libtorchaudio.abi3.so", "torchaudio_prefixctc.cpython-311.so", "plain"):
        (lib / name).write_bytes(b"\x7fELF\x02\x01\x01" + b"\0" * 64)
    (lib / "__init__.py").write_text("")
    (lib / "notes.so.txt").write_text("not a library")
    found = sorted(path.name for path in fixups.torchaudio_extension_files(tmp_path / "torchaudio"))
    assert found == sorted(["_torchaudio.so", "libtorchaudio.abi3.so", "torchaudio_prefixctc.cpython-311.so",
                            "plain"])
    renamed = fixups.disable_torchaudio_extension(tmp_path / "torchaudio")
    assert all(path.name.endswith(".cpu-disabled") for path in renamed) and len(renamed) == 4
    assert fixups.torchaudio_extension_files(tmp_path / "torchaudio") == []
    restored = fixups.restore_torchaudio_extension(tmp_path / "torchaudio")
    assert len(restored) == 4 and len(fixups.torchaudio_extension_files(tmp_path / "torchaudio")) == 4


@pytest.mark.parametrize("error, expected", [
    ("OSError: Could not load this library: /x/torchaudio/lib/_torchaudio.so", True),
    ("OSError: libc10_cuda.so: cannot open shared object file: No such file or directory", True),
    ("ModuleNotFoundError: No module named 'torch'", False),
])
def test_fixup_only_acts_on_a_library_load_failure(error, expected):
    assert load_fixups().is_extension_load_error(error) is expected


def test_torchaudio_imports_here():
    result = subprocess.run([sys.executable, "-c", "import torchaudio.compliance.kaldi"], capture_output=True)
    assert result.returncode == 0, result.stderr.decode()[-500:]
