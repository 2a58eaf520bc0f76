from math import comb

import pytest

from harness.passk import pass_at_k, pass_at_k_table


def exact(n: int, c: int, k: int) -> float:
    return 1.0 - comb(n - c, k) / comb(n, k)


@pytest.mark.parametrize("n,c,k", [(10, 3, 1), (10, 3, 5), (200, 17, 100), (200, 1, 10), (5, 5, 5), (164, 0, 1)])
def test_matches_the_exact_combinatorial_formula(n: int, c: int, k: int) -> None:
    assert pass_at_k(n, c, k) == pytest.approx(exact(n, c, k), abs=1e-12)


def test_edge_cases() -> None:
    assert pass_at_k(10, 0, 5) == 0.0  # human-eval#35: c = 0 is exactly zero
    assert pass_at_k(10, 8, 5) == 1.0  # n - c < k: every draw of 5 contains a correct one
    assert pass_at_k(3, 1, 5) is None  # k > n: not computable, not a wrong number
    assert pass_at_k(1, 1, 1) == 1.0
    with pytest.raises(ValueError):
        pass_at_k(3, 4, 1)


def test_table_is_a_mean_over_tasks_and_refuses_unsupported_k() -> None:
    table = pass_at_k_table({"a": (10, 5), "b": (10, 0), "c": (2, 1)}, [1, 2, 5])
    assert table["1"] == pytest.approx((0.5 + 0.0 + 0.5) / 3)
    assert table["2"] == pytest.approx((exact(10, 5, 2) + 0 + 1.0) / 3)
    assert table["5"] is None  # task c has only 2 candidates


def test_hand_computation_on_recorded_human_eval_figures() -> None:
    # 3 tasks: 2/4, 0/4, 4/4 correct -> pass@1 = mean(0.5, 0, 1); pass@2 = mean(1 - C(2,2)/C(4,2), 0, 1)
    table = pass_at_k_table({"x": (4, 2), "y": (4, 0), "z": (4, 4)}, [1, 2])
    assert table == {"1": pytest.approx(0.5), "2": pytest.approx((1 - 1 / 6 + 0 + 1) / 3)}
