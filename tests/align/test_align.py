"""``align``: one matrix for a repository's GPU services, as format-preserving edits of its own files."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from cudalign.align import DRIFT_CODES, align
from cudalign.align.edits import EditedFile
from cudalign.cli import main
from cudalign.facts import load
from cudalign.hosts import describe_host
from cudalign.scan import scan

REPOS = Path(__file__).resolve().parents[1] / "repos"
CASES = {"speech_llm": ("A10G", "535.104.05"), "voice_assistant": ("L40S", "550.127.05")}


def copy(tmp_path: Path, name: str) -> Path:
    return Path(shutil.copytree(REPOS / name, tmp_path / name))


def flags(name: str) -> list[str]:
    gpu, driver = CASES[name]
    return ["--gpu", gpu, "--driver", driver]


def host(name: str):  # type: ignore[no-untyped-def]
    gpu, driver = CASES[name]
    return describe_host(load(), gpus=(gpu,), driver=driver)


@pytest.mark.parametrize("name", sorted(CASES))
def test_write_then_scan_leaves_no_drift(
    tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    root = copy(tmp_path, name)
    before = {f.code for f in scan(root, load(), host(name)).findings}
    assert before & DRIFT_CODES  # the sample is misaligned on purpose
    assert main(["align", str(root), *flags(name), "--write", "--force"]) == 0
    after = scan(root, load(), host(name))
    assert not [f"{f.code} {f.location}" for f in after.findings if f.code in DRIFT_CODES]
    torches = {str(v.torch_version) for v in after.views if v.gpu_stack and v.torch_version}
    assert len(torches) == 1


@pytest.mark.parametrize("name", sorted(p.name for p in REPOS.iterdir() if p.is_dir()))
def test_untouched_files_and_lines_stay_byte_identical(tmp_path: Path, name: str) -> None:
    """On every sample repository: files align does not edit are written back byte for byte (it writes
    none of them), and in an edited file every line but the edited ones is the same bytes."""
    root = copy(tmp_path, name)
    result_scan = scan(root, load())
    if not any(v.gpu_stack and v.stack for v in result_scan.views):
        pytest.skip(f"{name}: no GPU service")
    result = align(root, load(), host("speech_llm"), result=result_scan)
    for rel in result_scan.files:
        data = (root / rel).read_bytes()
        assert EditedFile.read(rel, data).text.encode("utf-8") == data
    for f in result.files:
        old = f.original.decode("utf-8").splitlines(keepends=True)
        kept = [ln for ln in old if ln in f.lines]
        changed = len(old) - len(kept)
        assert changed <= len(f.reasons)
        assert all(ln.endswith(old[0][-2:] if old[0].endswith("\r\n") else "\n") for ln in f.lines[:-1])


def test_crlf_lines_keep_their_endings(tmp_path: Path) -> None:
    root = copy(tmp_path, "voice_assistant")
    result = align(root, load(), host("voice_assistant"))
    docker = next(f for f in result.changed if f.path == "stt/Dockerfile")
    assert docker.original.count(b"\r\n") == docker.text.encode().count(b"\r\n")
    assert "FROM nvidia/cuda:12.1.1-runtime-ubuntu22.04\r\n" in docker.lines


def test_default_prints_a_diff_and_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = copy(tmp_path, "voice_assistant")
    snapshot = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    assert main(["align", str(root), *flags("voice_assistant")]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("--- a/") and "+torch==2.4.0" in out and "joined: llm, stt, tts" in err
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == snapshot


def test_refuses_a_dirty_git_worktree_and_a_read_only_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = copy(tmp_path, "voice_assistant")
    git = ["git", "-C", str(root), "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "x"], check=True)
    (root / "tts" / "requirements.txt").write_text("torch==2.1.2\ntorchaudio==2.1.2\n")
    assert main(["align", str(root), *flags("voice_assistant"), "--write"]) == 2
    assert "uncommitted changes in the git worktree" in capsys.readouterr().err
    subprocess.run([*git, "commit", "-qam", "y"], check=True)
    (root / "stt" / "requirements.txt").chmod(0o444)
    assert main(["align", str(root), *flags("voice_assistant"), "--write"]) == 2
    assert "stt/requirements.txt: read-only" in capsys.readouterr().err
    assert (root / "stt" / "requirements.txt").read_text().count("torch==2.2.2") == 1


def test_refuses_a_file_changed_since_it_was_read(tmp_path: Path) -> None:
    from cudalign.cli.align import _refuse

    root = copy(tmp_path, "voice_assistant")
    result = align(root, load(), host("voice_assistant"))
    (root / result.changed[0].path).write_text("changed\n")
    with pytest.raises(Exception, match="changed on disk since it was read"):
        _refuse(result, force=True)


def test_no_common_matrix_names_the_conflict_and_offers_each_service_its_own(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = copy(tmp_path, "speech_llm")
    assert main(["align", str(root), "--gpu", "A10G", "--gpu", "T4", "--driver", "535.104.05"]) == 1
    err = capsys.readouterr().err
    assert "cannot join: stt:" in err and "flash-attn" in err and "its own matrix: torch" in err


def test_align_needs_a_host(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["align", str(copy(tmp_path, "voice_assistant"))]) == 2
    assert "align needs the host" in capsys.readouterr().err
