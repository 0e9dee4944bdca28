"""Cutting text into overlapping chunks: sizes, overlaps, boundaries, the plan per model."""

from __future__ import annotations

import itertools

import pytest

from omnigate.knowledge.chunking import chunk_plan, chunk_text, count_tokens


def words(n: int) -> str:
    return " ".join(f"w{i}" for i in range(n))


def test_an_empty_or_blank_text_has_no_chunks() -> None:
    assert chunk_text("") == []
    assert chunk_text(" \n\t ") == []


def test_a_text_shorter_than_a_chunk_is_one_chunk_without_its_outer_spaces() -> None:
    assert chunk_text("  Hello, world!\n\n", size=10, overlap=4) == ["Hello, world!"]


def test_chunks_overlap_by_the_overlap_and_cover_every_token() -> None:
    chunks = chunk_text(words(30), size=10, overlap=4)
    assert [c.split()[0] for c in chunks] == ["w0", "w6", "w12", "w18", "w24"]
    assert [count_tokens(c) for c in chunks] == [10, 10, 10, 10, 6]
    for before, after in itertools.pairwise(chunks):
        assert before.split()[-4:] == after.split()[:4]
    covered = {w for c in chunks for w in c.split()}
    assert covered == set(words(30).split())


def test_a_text_of_exactly_one_chunk_is_not_cut_again() -> None:
    assert chunk_text(words(10), size=10, overlap=4) == [words(10)]


def test_the_last_chunk_ends_with_the_text() -> None:
    chunks = chunk_text(words(14), size=10, overlap=4)
    assert chunks == [words(10), " ".join(f"w{i}" for i in range(6, 14))]


def test_a_chunk_is_the_text_as_written_between_its_first_and_last_token() -> None:
    text = "First line,\nsecond   line.\n\nThird: end"
    chunks = chunk_text(text, size=6, overlap=2)
    assert all(c in text for c in chunks)
    assert chunks[0] == "First line,\nsecond   line."


def test_punctuation_counts_and_long_runs_of_letters_are_cut() -> None:
    assert count_tokens("a, b.") == 4
    assert count_tokens("x" * 40) == 3  # 16 + 16 + 8 characters
    assert len(chunk_text("x" * 40, size=2, overlap=1)) == 2


def test_openai_defaults_where_the_model_reads_enough_else_three_quarters_of_its_context() -> None:
    assert chunk_plan(None) == (800, 400)
    assert chunk_plan(8191) == (800, 400)
    assert chunk_plan(256) == (192, 96)  # all-MiniLM-L6-v2
    assert chunk_plan(4) == (16, 8)


def test_configured_sizes_apply_within_the_models_context() -> None:
    assert chunk_plan(256, chunk_tokens=48, overlap_tokens=16) == (48, 16)
    assert chunk_plan(256, chunk_tokens=400, overlap_tokens=100) == (192, 48)
    assert chunk_plan(None, chunk_tokens=1000, overlap_tokens=0) == (1000, 0)


@pytest.mark.parametrize(("size", "overlap"), [(0, 0), (10, 10), (10, -1)])
def test_a_plan_without_progress_is_refused(size: int, overlap: int) -> None:
    with pytest.raises(ValueError):
        chunk_text("some words", size=size, overlap=overlap)
