"""Stored vectors and the exact ranking: numpy and plain Python agree, scores lie in [0, 1]."""

from __future__ import annotations

import math

import pytest

from omnigate.knowledge.vectors import cosines_numpy, cosines_python, pack, rank, score, unpack


def test_a_vector_is_stored_normalised_as_float32() -> None:
    stored = pack([3.0, 4.0])
    assert len(stored) == 8
    assert list(unpack(stored)) == pytest.approx([0.6, 0.8])
    assert list(unpack(pack([0.0, 0.0]))) == [0.0, 0.0]


def test_the_score_maps_cosine_onto_zero_to_one() -> None:
    assert (score(1.0), score(0.0), score(-1.0)) == (1.0, 0.5, 0.0)
    assert score(1.0000001) == 1.0  # float32 rounding never leaves the range


def test_rank_orders_by_cosine_and_keeps_the_k_best() -> None:
    query = pack([1.0, 0.0])
    candidates = [pack([0.0, 1.0]), pack([1.0, 0.1]), pack([-1.0, 0.0]), pack([1.0, 1.0])]
    ranked = rank(query, candidates, 3)
    assert [i for i, _ in ranked] == [1, 3, 0]
    assert ranked[0][1] == pytest.approx((1 + 1 / math.sqrt(1.01)) / 2)
    assert ranked[2][1] == pytest.approx(0.5)
    assert all(0.0 <= s <= 1.0 for _, s in rank(query, candidates, 10))


def test_a_vector_of_another_size_never_ranks() -> None:
    assert rank(pack([1.0, 0.0]), [pack([1.0, 0.0, 0.0]), pack([0.5, 0.5])], 5) == [
        (1, pytest.approx((1 + math.sqrt(0.5)) / 2))
    ]


def test_numpy_and_plain_python_give_the_same_cosines() -> None:
    query = pack([0.3, -0.2, 0.9])
    candidates = [pack([0.1, 0.2, 0.3]), pack([1.0]), pack([-0.5, 0.4, 0.0])]
    python = cosines_python(query, candidates)
    assert python[1] is None
    assert cosines_numpy(query, candidates) == [pytest.approx(python[0]), None, pytest.approx(python[2])]
