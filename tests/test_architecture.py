"""The package's shape: no module of vtxlib imports one that imports it back (directly or through
others). Imports are read with ``ast`` (module level and inside functions, ``TYPE_CHECKING`` blocks
included), so a loop hidden in a function-level import counts too."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "vtxlib"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_of(path: Path, name: str) -> str:
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def resolve(modules: set[str], target: str) -> str | None:
    """The vtxlib module ``target`` names: itself, or its longest known prefix (``from .x import y``
    names ``x.y``, which is an attribute of module ``x`` unless ``x.y`` is a module)."""
    while target:
        if target in modules:
            return target
        target = target.rpartition(".")[0]
    return None


def imported_modules(path: Path, modules: set[str]) -> set[str]:
    """The vtxlib modules ``path`` imports, anywhere in the file."""
    name = module_name(path)
    package = package_of(path, name)
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        targets = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            targets = [f"{stem}.{alias.name}" for alias in node.names] + [stem]
        for target in targets:
            if target.split(".")[0] != "vtxlib":
                continue
            module = resolve(modules, target)
            if module:
                found |= {m for m in with_packages(module) if m != name and not name.startswith(m + ".")}
    return found


def with_packages(module: str) -> list[str]:
    """``module`` and the packages Python imports before it (``a.b.c``: ``a.b.c``, ``a.b``; not
    ``vtxlib`` itself, which every module's import runs first). A module's own packages are left
    out by the caller: a package importing its submodule is no loop back."""
    parts = module.split(".")
    return [".".join(parts[:n]) for n in range(len(parts), 1, -1)]


def import_graph() -> dict[str, set[str]]:
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    modules = set(files)
    return {name: imported_modules(path, modules) for name, path in sorted(files.items())}


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module (Tarjan), as a path."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [cycle_path(graph, set(component)) for component in components]


def cycle_path(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    """A closed path a -> ... -> a inside ``component`` (breadth-first, so the shortest from a)."""
    start = min(component)
    previous = {start: None}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for nxt in sorted(graph[node] & component):
            if nxt == start:
                path = [node]
                while previous[path[-1]] is not None:
                    path.append(previous[path[-1]])
                return path[::-1] + [start]
            if nxt not in previous:
                previous[nxt] = node
                queue.append(nxt)
    return sorted(component)


def test_the_graph_sees_the_package():
    graph = import_graph()
    assert len(graph) > 40 and "vtxlib.pipeline" in graph and "vtxlib.diarize.embedded" in graph
    # function-level and relative imports are read: the pipeline imports the diarizers lazily
    assert "vtxlib.diarize" in graph["vtxlib.stages.backends"]
    assert "vtxlib.types" in graph["vtxlib.diarize.embedded"]


def test_the_cycle_finder_finds_a_loop_through_three_modules():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycles(graph) == [["a", "b", "c", "a"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_imports_one_that_imports_it_back():
    cycles = find_cycles(import_graph())
    assert not cycles, "import loops:\n" + "\n".join(" -> ".join(cycle) for cycle in cycles)


def test_the_progress_callback_type_is_defined_once():
    """``ProgressFn`` lives in vtxlib.progress; stage packages import it rather than redefine it."""
    definitions = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] \
                if isinstance(node, ast.AnnAssign) else []
            if any(isinstance(t, ast.Name) and t.id == "ProgressFn" for t in targets):
                definitions.append(module_name(path))
    assert definitions == ["vtxlib.progress"]


def test_one_wav_reader():
    """WAV files are read and written with soundfile only (vtxlib.audio), not also the stdlib's wave."""
    users = sorted(module_name(path) for path in PACKAGE.rglob("*.py")
                   if any(isinstance(node, ast.Import) and any(a.name == "wave" for a in node.names)
                          or isinstance(node, ast.ImportFrom) and node.module == "wave" and not node.level
                          for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))))
    assert users == []


def test_hugging_face_errors_are_mapped_in_one_module():
    """The hub's exceptions are caught in vtxlib.hub only; backends pass it their wording."""
    names = {"GatedRepoError", "RepositoryNotFoundError", "OfflineModeIsEnabled"}
    users = sorted(module_name(path) for path in PACKAGE.rglob("*.py")
                   if any(isinstance(node, ast.ImportFrom) and any(a.name in names for a in node.names)
                          for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))))
    assert users == ["vtxlib.hub"]
