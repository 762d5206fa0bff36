"""The set-up files agree: environment.yml lists what pyproject.toml lists, README and CI run
the same test command."""

from __future__ import annotations

import re
from pathlib import Path

from conftest import require

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
CONDA_NAMES = {"torch": "pytorch"}  # pip name -> conda-forge name


def requirement_name(spec: str) -> str:
    name = re.split(r"[\s<>=!~;\[]", spec.strip(), maxsplit=1)[0].lower().replace("_", "-")
    return CONDA_NAMES.get(name, name)


def pyproject_requirements() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        specs += [s for s in extra if not s.startswith(project["name"])]  # skip gsasrec[...]
    return {requirement_name(s) for s in specs}


def test_environment_yml_lists_every_pyproject_dependency():
    yaml = _import_yaml()
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert environment["name"]
    conda, pip = set(), []
    for entry in environment["dependencies"]:
        if isinstance(entry, dict):
            pip += entry.get("pip", [])
        else:
            conda.add(requirement_name(entry))
    missing = pyproject_requirements() - conda - {requirement_name(p) for p in pip}
    assert not missing, f"environment.yml lacks {sorted(missing)}"
    assert "python" in conda


def _import_yaml():
    try:
        import yaml
    except ImportError:
        require(False, "PyYAML (installed with the notebook extras)")
    return yaml


def test_readme_test_command_is_what_ci_runs():
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^\s*make test\s*$", ci, re.MULTILINE)
    assert re.search(r"export GSASREC_DATA_DIR=", ci)
    readme = ROOT / "README.md"
    require(readme.exists(), "README.md (written with the set-up)")
    assert "make test" in readme.read_text()
    assert "make app" in readme.read_text()


def test_makefile_test_target_creates_the_environment():
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^test:.*\$\(STAMP\)", makefile, re.MULTILINE)
    assert "-m venv" in makefile and "pytest" in makefile


def test_pyproject_declares_the_cli_and_a_torch_range():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["gsasrec"] == "gsasrec.cli:main"
    torch_spec = next(s for s in project["dependencies"] if requirement_name(s) == "pytorch")
    assert ">=2.11" in torch_spec.replace(" ", "") and "==" not in torch_spec
