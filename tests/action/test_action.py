"""The composite GitHub Action (``action.yml``): its steps run here as a runner runs them (scan, SARIF, the
job summary, the failing step), its shell passes shellcheck, the action and the README's workflow validate
against SchemaStore's action and workflow schemas (as check-jsonschema vendors them), and actionlint, where it
is installed, checks a workflow that uses it."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ACTION = ROOT / "action.yml"
REPOS = ROOT / "tests" / "repos"


def _action() -> dict[str, Any]:
    data = yaml.safe_load(ACTION.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _value(name: str, ctx: dict[str, Any]) -> Any:
    kind, _, rest = name.partition(".")
    if kind == "inputs":
        return ctx["inputs"][rest]
    if kind == "steps":
        step, _, output = rest.partition(".outputs.")
        return ctx["steps"].get(step, {}).get(output, "")
    if kind == "github":
        return ctx["github"][rest]
    raise KeyError(name)


def evaluate(expr: str, ctx: dict[str, Any]) -> Any:
    """The few GitHub expression forms the action uses: contexts, ==, !=, &&, always(), hashFiles()."""
    expr = expr.strip()
    if expr.startswith("${{") and expr.endswith("}}"):
        expr = expr[3:-2].strip()

    def files(m: re.Match[str]) -> str:
        path = Path(ctx["workspace"]) / str(_value(m.group(1), ctx))
        return repr("hash" if path.is_file() else "")

    expr = re.sub(r"hashFiles\(([\w.-]+)\)", files, expr)
    expr = re.sub(r"\b((?:inputs|steps|github)\.[\w.-]+)", lambda m: repr(_value(m.group(1), ctx)), expr)
    expr = expr.replace("always()", "True").replace("&&", " and ").replace("||", " or ")
    return eval(expr, {"__builtins__": {}}, {"True": True})


def _substitute(text: str, ctx: dict[str, Any]) -> str:
    return re.sub(r"\$\{\{(.*?)\}\}", lambda m: str(evaluate(m.group(1), ctx)), text)


def run_steps(repo: Path, inputs: dict[str, str], tmp: Path) -> dict[str, Any]:
    """Run every ``run`` step of the action in order, as the runner would; ``uses`` steps are recorded."""
    declared = {k: str(v.get("default", "")) for k, v in _action()["inputs"].items()}
    ctx: dict[str, Any] = {
        "inputs": {**declared, **inputs},
        "steps": {},
        "github": {"action_path": str(ROOT)},
        "workspace": str(repo),
    }
    record: dict[str, Any] = {"ran": [], "used": [], "failed": None}
    summary = tmp / "summary.md"
    for step in _action()["runs"]["steps"]:
        cond = step.get("if")
        if cond is not None and not evaluate(cond, ctx):
            continue
        if "uses" in step:
            record["used"].append(
                (step["uses"], {k: _substitute(str(v), ctx) for k, v in step.get("with", {}).items()})
            )
            continue
        if step["name"] == "Install cudalign":  # installing is the online test's; here cudalign is installed
            continue
        output = tmp / f"output-{len(record['ran'])}"
        output.write_text("")
        env = {k: _substitute(str(v), ctx) for k, v in (step.get("env") or {}).items()}
        env.update(
            PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"],
            HOME=os.environ.get("HOME", str(tmp)),
            CUDALIGN_CACHE_DIR=os.environ["CUDALIGN_CACHE_DIR"],
            GITHUB_OUTPUT=str(output),
            GITHUB_STEP_SUMMARY=str(summary),
            GITHUB_WORKSPACE=str(repo),
        )
        done = subprocess.run(
            # how a runner starts a bash step: bash --noprofile --norc -eo pipefail {0}
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
            cwd=repo,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        record["ran"].append((step["name"], done.returncode, done.stdout + done.stderr))
        if "id" in step:
            outputs = dict(line.split("=", 1) for line in output.read_text().splitlines() if "=" in line)
            ctx["steps"][step["id"]] = outputs
        if done.returncode != 0:
            record["failed"] = step["name"]
            break
    record["summary"] = summary.read_text() if summary.exists() else ""
    record["steps"] = ctx["steps"]
    return record


def _copy(name: str, tmp: Path) -> Path:
    dest = tmp / name
    shutil.copytree(REPOS / name, dest)
    return dest


def test_a_misaligned_repo_uploads_sarif_and_fails_the_job(tmp_path: Path) -> None:
    repo = _copy("vllm_cuda_upgrade", tmp_path)
    record = run_steps(repo, {}, tmp_path)
    assert record["steps"]["scan"]["exit-code"] == "1"
    sarif = json.loads((repo / "cudalign.sarif").read_text())
    assert sarif["version"] == "2.1.0" and sarif["runs"][0]["results"]
    uses = dict(record["used"])
    assert uses["github/codeql-action/upload-sarif@v3"]["sarif_file"] == "cudalign.sarif"
    assert record["failed"] == "Fail on findings"
    assert "::error title=cudalign::findings at or above 'error'" in record["ran"][-1][2]
    assert "CA309" in record["summary"]  # the Markdown report in the job summary


def test_a_clean_repo_passes(tmp_path: Path) -> None:
    repo = _copy("clean", tmp_path)
    record = run_steps(repo, {}, tmp_path)
    assert record["steps"]["scan"]["exit-code"] == "0"
    assert record["failed"] is None
    assert (repo / "cudalign.sarif").is_file()


def test_fail_on_never_uploads_without_failing(tmp_path: Path) -> None:
    repo = _copy("vllm_cuda_upgrade", tmp_path)
    record = run_steps(repo, {"fail-on": "never", "upload-sarif": "false"}, tmp_path)
    assert record["steps"]["scan"]["exit-code"] == "0"
    assert record["failed"] is None and record["used"] == [
        ("actions/setup-python@v5", {"python-version": "3.12"})
    ]


def test_bad_input_fails_the_scan_step_itself(tmp_path: Path) -> None:
    repo = _copy("clean", tmp_path)
    record = run_steps(repo, {"fleet-driver": "not-a-driver"}, tmp_path)
    assert record["failed"] == "Scan"
    assert record["steps"]["scan"]["exit-code"] == "2"
    assert "--fleet-driver" in record["ran"][-1][2] or "not a driver" in record["ran"][-1][2]


def test_run_blocks_take_inputs_through_env_only() -> None:
    """No ${{ }} inside a script (a crafted input could inject shell); every input used is declared."""
    action = _action()
    declared = set(action["inputs"])
    for step in action["runs"]["steps"]:
        assert "${{" not in step.get("run", "")
        if "run" in step:
            assert step["shell"] == "bash"
    used = set(re.findall(r"inputs\.([\w-]+)", ACTION.read_text()))
    assert used <= declared


def test_scripts_pass_shellcheck(tmp_path: Path) -> None:
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None and not os.environ.get("CI"):
        pytest.skip("shellcheck is not installed")
    assert shellcheck is not None, ".ci/run installs shellcheck"
    for i, step in enumerate(s for s in _action()["runs"]["steps"] if "run" in s):
        script = tmp_path / f"step{i}.sh"
        script.write_text("#!/usr/bin/env bash\n" + step["run"])
        done = subprocess.run(
            [shellcheck, "-s", "bash", str(script)], capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stdout


def _readme_workflow() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    m = re.search(r"```yaml\n(name: cudalign\n.*?)```", text, re.S)
    assert m, "the README shows the workflow"
    return m.group(1)


def test_the_readme_workflow_uses_this_action() -> None:
    workflow = yaml.safe_load(_readme_workflow())
    steps = workflow["jobs"]["cudalign"]["steps"]
    ours = next(s for s in steps if "cudalign" in s.get("uses", "") and "checkout" not in s["uses"])
    assert set(ours.get("with", {})) <= set(_action()["inputs"])
    assert workflow["jobs"]["cudalign"]["permissions"]["security-events"] == "write"


def _check_jsonschema() -> list[str]:
    """The check-jsonschema command (a test dependency); CI fails without it rather than skipping."""
    import importlib.util

    if importlib.util.find_spec("check_jsonschema") is None:
        if os.environ.get("CI"):
            pytest.fail("check-jsonschema is a test dependency and must be installed in CI")
        pytest.skip("check-jsonschema is not installed (pip install '.[test]')")
    return [sys.executable, "-m", "check_jsonschema"]


def _validate(schema: str, path: Path) -> subprocess.CompletedProcess[str]:
    """``path`` against one of SchemaStore's schemas that check-jsonschema ships (no network: vendored)."""
    argv = [*_check_jsonschema(), "--builtin-schema", f"vendor.{schema}", "--output-format", "text"]
    argv.append(str(path))
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)


def test_the_action_validates_against_the_action_metadata_schema() -> None:
    done = _validate("github-actions", ACTION)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "validation done" in done.stdout


def test_the_readme_workflow_validates_against_the_workflow_schema(tmp_path: Path) -> None:
    workflow = tmp_path / "cudalign.yml"
    workflow.write_text(_readme_workflow(), encoding="utf-8")
    done = _validate("github-workflows", workflow)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    "breakage",
    ["run step without shell", "input without description", "unknown runner", "output without value"],
)
def test_the_schema_check_catches_a_broken_action(tmp_path: Path, breakage: str) -> None:
    """The validator really judges the file: each of these mistakes in a copy of the action fails it."""
    action = _action()
    steps = action["runs"]["steps"]
    if breakage == "run step without shell":
        del next(s for s in steps if "run" in s)["shell"]
    elif breakage == "input without description":
        del action["inputs"]["path"]["description"]
    elif breakage == "unknown runner":
        action["runs"]["using"] = "bash"
    else:
        del action["outputs"]["exit-code"]["value"]
    broken = tmp_path / "action.yml"
    broken.write_text(yaml.safe_dump(action, sort_keys=False), encoding="utf-8")
    done = _validate("github-actions", broken)
    assert done.returncode == 1, f"{breakage}: accepted\n{done.stdout}{done.stderr}"
    assert "Schema validation errors" in done.stdout + done.stderr


def test_actionlint_accepts_the_workflow_and_the_action(tmp_path: Path) -> None:
    actionlint = shutil.which("actionlint")
    if actionlint is None:
        pytest.skip("actionlint is not installed (an extra check; the schema tests above always run)")
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    shutil.copy(ACTION, tmp_path / "action.yml")
    local = re.sub(r"uses: [\w-]+/cudalign@\S+", "uses: ./", _readme_workflow())
    (tmp_path / ".github" / "workflows" / "cudalign.yml").write_text(local)
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    done = subprocess.run(
        [actionlint, "-no-color"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.online
def test_the_install_step_installs_this_checkout(tmp_path: Path) -> None:
    """The install step, for real: a fresh virtual environment gets cudalign from the action's own path."""
    import venv

    venv.EnvBuilder(with_pip=True).create(tmp_path / "venv")
    bindir = tmp_path / "venv" / "bin"
    step = next(s for s in _action()["runs"]["steps"] if s.get("name") == "Install cudalign")
    env = {
        "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(tmp_path),
        "CUDALIGN_VERSION": "",
        "ACTION_PATH": str(ROOT),
    }
    done = subprocess.run(
        ["bash", "-c", step["run"]], env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1].startswith("cudalign ")
