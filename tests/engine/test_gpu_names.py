"""GPU names as people and tools write them: every name the knowledge base holds round-trips, spellings
with vendor words, memory sizes, dashes and Max-Q wording find the same GPU, and the rest get a hint."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cudalign.errors import UnknownGpu
from cudalign.facts import Facts, load
from cudalign.facts.gpu_names import candidate_keys, fold

FACTS = load()
GPUS = FACTS.of_kind("gpu")
NAMED = [(f.id, str(n)) for f in GPUS for n in (f["name"], *f.get("aliases", ()), *f.get("nvml_names", ()))]


@pytest.fixture(scope="module")
def facts() -> Facts:
    return FACTS


def test_every_name_alias_and_nvml_name_round_trips(facts: Facts) -> None:
    """Each name, alias and NVML name of a GPU fact finds that fact, and no two facts claim one name."""
    wrong = [(fid, name, facts.gpu(name).id) for fid, name in NAMED if facts.gpu(name).id != fid]
    assert wrong == []


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(NAMED),
    st.sampled_from(["", "NVIDIA ", "nvidia ", "NVIDIA GeForce "]),
    st.sampled_from(["", " 24GB", "-80GB", " 12 GB"]),
    st.sampled_from(["as is", "upper", "lower", "dashes"]),
)
def test_spellings_of_a_name_find_the_same_gpu(
    named: tuple[str, str], prefix: str, memory: str, case: str
) -> None:
    """Vendor words, a memory size, case and dashes for spaces do not change which GPU a name is."""
    fid, name = named
    text = prefix + name + memory
    text = {"upper": text.upper(), "lower": text.lower(), "dashes": text.replace(" ", "-")}.get(case, text)
    assert FACTS.gpu(text)["cc"] == FACTS.get(fid)["cc"], text
    if not memory:
        assert FACTS.gpu(text).id == fid, text


@pytest.mark.parametrize(
    ("text", "fact_id"),
    [
        ("RTX 3060 12GB", "gpu.rtx-3060"),
        ("RTX 4090 D", "gpu.rtx-4090-d"),
        ("Tesla V100-PCIE-32GB", "gpu.v100-pcie"),
        ("A100-SXM4-80GB", "gpu.a100-sxm4"),
        ("NVIDIA GeForce RTX 4080 Laptop GPU", "gpu.rtx-4080-laptop"),
    ],
)
def test_names_from_the_wild(facts: Facts, text: str, fact_id: str) -> None:
    assert facts.gpu(text).id == fact_id


def test_laptop_and_max_q_wording_keeps_the_capability(facts: Facts) -> None:
    """A laptop part the knowledge base lacks is its desktop sibling's architecture (same capability)."""
    assert facts.gpu("NVIDIA GeForce RTX 2080 with Max-Q Design")["cc"] == facts.gpu("RTX 2080")["cc"]
    assert facts.gpu("NVIDIA GeForce RTX 4090 Laptop GPU")["arch"] == "Ada"
    # a product whose own name says Max-Q is that product, not the card without it
    assert "Max-Q" in facts.gpu("RTX PRO 6000 Blackwell Max-Q")["name"]


def test_memory_size_is_dropped_only_after_the_name_as_written(facts: Facts) -> None:
    assert candidate_keys("RTX 3060 12GB") == [fold("RTX 3060 12GB"), fold("RTX 3060")]
    assert candidate_keys("H100") == ["h100"]


def test_an_unknown_name_gets_did_you_mean(facts: Facts) -> None:
    with pytest.raises(UnknownGpu) as err:
        facts.gpu("RTX 4090X")
    assert err.value.hint is not None and "did you mean 'GeForce RTX 4090'" in err.value.hint
    with pytest.raises(UnknownGpu) as err:
        facts.gpu("Telsa T4")
    assert err.value.hint is not None and "'Tesla T4'" in err.value.hint


def test_nothing_close_gets_no_guess(facts: Facts) -> None:
    with pytest.raises(UnknownGpu) as err:
        facts.gpu("quantum accelerator")
    assert err.value.hint is not None and "did you mean" not in err.value.hint


def test_folding_is_linear_on_long_input() -> None:
    import time

    text = "NVIDIA " + "GeForce-" * 20000 + "RTX 4090 24GB"
    start = time.perf_counter()
    candidate_keys(text)
    assert time.perf_counter() - start < 1.0
