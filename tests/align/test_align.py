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


def test_vllm_image_tags_move_with_the_matrix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A batch worker pins vLLM 0.13.0 while its Dockerfile, the compose server and the Kubernetes server run
    the v0.10.1.1 image: align moves every ``vllm/vllm-openai`` tag to the matrix's vLLM, on its own line,
    quotes, comment, registry prefix and CRLF endings kept, and adds no torch index (the image brings it)."""
    root = copy(tmp_path, "vllm_images")
    facts = load()
    h = describe_host(facts, gpus=("L40S",), driver="580.65.06")
    before = {p: (root / p).read_bytes() for p in ("docker-compose.yml", "k8s/llm.yaml", "batch/Dockerfile")}
    untouched = {p: (root / p).read_bytes() for p in ("batch/requirements.txt", "batch/batch.py")}
    assert "CA301" in {f.code for f in scan(root, facts, h).findings}  # vllm==0.13.0 in a v0.10.1.1 image
    assert main(["align", str(root), "--gpu", "L40S", "--driver", "580.65.06", "--write", "--force"]) == 0
    err = capsys.readouterr().err
    assert "vLLM 0.13.0" in err and "still:" not in err
    for rel, data in untouched.items():
        assert (root / rel).read_bytes() == data, rel
    expected = {
        "docker-compose.yml": (
            b'    image: "vllm/vllm-openai:v0.10.1.1"   # the server',
            b'    image: "vllm/vllm-openai:v0.13.0"   # the server',
        ),
        "k8s/llm.yaml": (
            b"          image: docker.io/vllm/vllm-openai:v0.10.1.1\r\n",
            b"          image: docker.io/vllm/vllm-openai:v0.13.0\r\n",
        ),
        "batch/Dockerfile": (b"FROM vllm/vllm-openai:v0.10.1.1\n", b"FROM vllm/vllm-openai:v0.13.0\n"),
    }
    for rel, (old, new) in expected.items():
        after = (root / rel).read_bytes()
        assert after == before[rel].replace(old, new, 1) and after != before[rel], rel
    assert (root / "k8s/llm.yaml").read_bytes().count(b"\r\n") == before["k8s/llm.yaml"].count(b"\r\n")
    result = scan(root, facts, h)
    assert result.findings == ()
    images = {v.service.name: v.service.image.reference for v in result.views if v.service.image}
    assert images == {"batch": "vllm/vllm-openai:v0.13.0", "llm": "vllm/vllm-openai:v0.13.0"}


def test_vllm_image_references_keep_their_registry_and_lose_a_stale_digest(tmp_path: Path) -> None:
    from cudalign.align import _vllm_image

    facts = load()
    h = describe_host(facts, gpus=("L40S",), driver="580.65.06")
    result = align(copy(tmp_path, "vllm_images"), facts, h)
    assert result.matrix is not None and result.matrix.vllm == "0.13.0"
    digest = "sha256:" + "0123456789abcdef" * 4
    assert (
        _vllm_image(f"my-registry.example/mirror/vllm/vllm-openai:v0.10.1.1@{digest}", result.matrix, facts)
        == "my-registry.example/mirror/vllm/vllm-openai:v0.13.0"
    )
    assert _vllm_image("vllm/vllm-openai:v0.13.0", result.matrix, facts) is None  # already there
    assert _vllm_image("vllm/vllm-openai:latest", result.matrix, facts) is None  # names no release
    assert _vllm_image("nvidia/cuda:12.8.1-runtime-ubuntu22.04", result.matrix, facts) is None
    assert _vllm_image("ghcr.io/acme/vllm-openai:v0.10.1.1", result.matrix, facts) is None
