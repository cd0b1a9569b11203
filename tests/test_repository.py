"""The repository a fresh clone gets: no stray files, packaging metadata that current tools
accept, test extras that cover what the tests import."""

from __future__ import annotations

import ast
import graphlib
import inspect
import subprocess
import sys
import tomllib
from pathlib import Path

from tests.support.mediatools import MarkerClip

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
# Import names that differ from their distribution's name, and modules that come with another.
DISTRIBUTION = {"PIL": "pillow", "yaml": "pyyaml", "dotenv": "python-dotenv"}
COMES_WITH = {"botocore": "boto3", "httpx": "gradio_client", "fastapi": "gradio",
              "uvicorn": "gradio", "_pytest": "pytest", "httpx2": "huggingface_hub",
              "websockets": "gradio_client"}  # fmt: skip


def _name(requirement: str) -> str:
    for stop in "<>=[; ":
        requirement = requirement.split(stop)[0]
    return requirement.lower().replace("-", "_")


def test_no_stray_moviepy_files_and_none_can_be_committed() -> None:
    assert not list(ROOT.glob("*TEMP_MPY_*"))
    assert "*TEMP_MPY_*" in (ROOT / ".gitignore").read_text().splitlines()


def test_the_license_is_an_spdx_expression() -> None:
    assert PYPROJECT["project"]["license"] == "MIT"


def test_every_module_the_tests_import_is_installed_by_the_test_extras() -> None:
    declared = {_name(r) for r in PYPROJECT["project"]["dependencies"]}
    declared |= {_name(r) for r in PYPROJECT["project"]["optional-dependencies"]["test"]}
    imported: set[str] = set()
    for source in (ROOT / "tests").rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                imported.add(node.module.split(".")[0])
    third_party = imported - set(sys.stdlib_module_names) - {"f1gen", "tests", "__future__"}

    missing = {
        name
        for name in third_party
        if _name(DISTRIBUTION.get(name, COMES_WITH.get(name, name))) not in declared
    }

    assert missing == set()


def test_the_moviepy_baseline_leaves_nothing_behind(
    marker_clips: list[MarkerClip], tmp_path: Path
) -> None:
    output = tmp_path / "out" / "moviepy.mp4"
    output.parent.mkdir()
    # MoviePy's default temporary sound file goes to the current folder (and stays there when a
    # run is killed): where it would go, there is a folder now, so only a run that puts it
    # elsewhere succeeds.
    squatters = [tmp_path / f"moviepyTEMP_MPY_wvf_snd.{ext}" for ext in ("m4a", "mp4", "aac")]
    for squatter in squatters:
        squatter.mkdir()
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "stitch.py"), "--worker", "moviepy", "--output",
         str(output), *(str(c.path) for c in marker_clips[:2])],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip

    assert run.returncode == 0, run.stderr
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == sorted(
        ["out", "out/moviepy.mp4", *(s.name for s in squatters)])  # fmt: skip


# One door per external system (style.md): the only module that imports each.
DOORS = {"gradio_client": "f1gen/backends/gradio_door.py", "boto3": "f1gen/storage.py",
         "botocore": "f1gen/storage.py", "subprocess": "f1gen/media.py",
         "fal_client": "f1gen/backends/fal.py", "replicate": "f1gen/backends/replicate.py"}  # fmt: skip


def test_each_external_system_has_one_door() -> None:
    importers: dict[str, set[str]] = {name: set() for name in DOORS}
    for source in (ROOT / "f1gen").rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module]
            else:
                continue
            for name in names:
                if name.split(".")[0] in importers:
                    importers[name.split(".")[0]].add(source.relative_to(ROOT).as_posix())

    assert importers == {name: {door} for name, door in DOORS.items()}


def test_the_view_and_the_log_need_no_runner_and_the_status_no_stitch() -> None:
    code = (
        "import sys, f1gen.ui, f1gen.runlog, f1gen.status\n"
        "print([m for m in ('f1gen.runner', 'f1gen.lanes', 'f1gen.stitch') if m in sys.modules])"
    )
    shown = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                           text=True, check=True)  # fmt: skip

    assert shown.stdout == "[]\n"


def _imports(layer: str) -> dict[str, set[str]]:
    """What a module of f1gen/stitch/ imports: module (relative ones with their dots) -> names."""
    found: dict[str, set[str]] = {}
    for node in ast.walk(ast.parse((ROOT / "f1gen" / "stitch" / f"{layer}.py").read_text())):
        if isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            found.setdefault(module, set()).update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update({alias.name: set() for alias in node.names})
    return found


def test_the_stitchs_layers_depend_one_way_and_its_builders_on_no_media_code() -> None:
    layers = {name: {m for m in _imports(name) if m.count(".") == 1 and m.startswith(".")}
              for name in ("ffargs", "frames", "mix", "cut", "publish")}  # fmt: skip
    builders = _imports("ffargs")

    assert layers == {"ffargs": set(), "frames": {".ffargs"}, "mix": {".ffargs"},
                      "cut": {".ffargs", ".frames", ".mix"},
                      "publish": {".cut", ".ffargs", ".mix"}}  # fmt: skip
    # The builders run nothing, touch no file, draw nothing: from the rest of f1gen they take an
    # error, the raw sound's format and types.
    assert not {"subprocess", "os", "shutil", "io", "PIL", "av"} & {
        m.split(".")[0] for m in builders
    }
    assert {m: n for m, n in builders.items() if m.startswith("..")} == {
        "..errors": {"StitchError"},
        "..media": {"PCM_BYTES", "PCM_FORMAT"},
        "..clipspec": {"ClipSpec"},
        "..captions": {"Cue"},
    }


def _module_name(source: Path) -> str:
    parts = source.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _f1gen_imports() -> dict[str, set[str]]:
    """Every f1gen module -> the f1gen modules it imports: at the top, lazily inside a function
    or for types only (importing a.b.c imports its packages a.b too)."""
    sources = {_module_name(p): p for p in (ROOT / "f1gen").rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for module, source in sources.items():
        package = module if source.name == "__init__.py" else module.rpartition(".")[0]
        found: set[str] = set()
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = package.split(".")[: len(package.split(".")) - max(node.level - 1, 0)]
                target = ".".join([*base, node.module or ""]).strip(".") if node.level else ""
                target = target or (node.module or "")
                found |= {f"{target}.{a.name}" if f"{target}.{a.name}" in sources else target
                          for a in node.names}  # fmt: skip
            elif isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names}
        whole = set()
        for name in found:
            parts = name.split(".")
            whole |= {".".join(parts[:i]) for i in range(2, len(parts) + 1)}
        graph[module] = {m for m in whole if m in sources and m != module
                         and not module.startswith(m + ".")}  # fmt: skip
    return graph


# The package's layers, lowest first: a module imports from its own layer or the ones below.
LAYERS = {
    "values": {"f1gen", "errors", "words", "scene", "clipspec", "captions", "models"},
    "tools": {"files", "media", "images", "notify", "schedule", "settings", "storage", "state",
              "ledger", "checks", "sheets", "takes", "cron", "interrupts",
              "soundtrack", "voices"},
    "backends": {"backends"},
    "stages": {"config", "storyboard", "prompts", "plan", "estimate", "events", "workspace",
                   "runlog", "doctor", "characters"},
    "library": {"costs", "lanes", "picks", "review", "status", "sync", "ui", "runner",
                "stitch", "casting"},
    "door": {"pipeline"},
    "commands": {"commands", "cli", "__main__"},
}  # fmt: skip


def _layer(module: str) -> int:
    name = module.split(".")[1] if "." in module else module
    return next(i for i, members in enumerate(LAYERS.values()) if name in members)


def test_the_import_graph_of_f1gen_has_no_circle() -> None:
    graphlib.TopologicalSorter(_f1gen_imports()).prepare()  # raises CycleError naming one


def test_every_module_has_a_layer_and_no_import_runs_back_up_the_layers() -> None:
    graph = _f1gen_imports()
    unplaced = {m for m in graph if not any(m.split(".")[-1 if m == "f1gen" else 1] in members
                                           for members in LAYERS.values())}  # fmt: skip
    upward = sorted(f"{m} -> {d}" for m, deps in graph.items() for d in deps
                    if _layer(d) > _layer(m))  # fmt: skip

    assert unplaced == set()
    assert upward == []


def _functions(folder: Path) -> dict[str, int]:
    """Every function under folder: 'path:line name' -> its length in lines."""
    found = {}
    for source in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                where = f"{source.relative_to(ROOT).as_posix()}:{node.lineno} {node.name}"
                found[where] = (node.end_lineno or node.lineno) - node.lineno + 1
    return found


def test_commands_are_short_and_no_function_is_long() -> None:
    from f1gen.cli import COMMANDS

    commands = {c.__name__: len(inspect.getsourcelines(c)[0]) for c in COMMANDS}
    long = {where: n for where, n in _functions(ROOT / "f1gen").items() if n > 100}

    assert {name: n for name, n in commands.items() if n >= 60} == {}
    assert long == {}
    assert len((ROOT / "f1gen" / "cli.py").read_text().splitlines()) <= 200
