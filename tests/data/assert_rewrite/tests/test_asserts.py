from checks import check_total
from conftest import Money


class Token:
    """Hashed by identity: two at once are never equal."""


def test_temporaries_stay_alive_while_the_assert_runs():
    # Under pytest's rewriting both tokens exist when their hashes are compared; evaluated
    # plainly, the first is freed before the second is made and may reuse its address.
    assert hash(Token()) != hash(Token())


def test_list_difference_is_explained():
    assert [1, 2, 3] == [1, 2, 4]


def test_message_and_values():
    count = 3
    assert count == 4, "the count is off"


def test_helper_module_is_rewritten():
    check_total([1, 2], 4)


def test_conftest_explains_its_own_type():
    assert Money(100) == Money(150)


def test_passing_assert():
    value = {"a": 1}
    assert value["a"] == 1
