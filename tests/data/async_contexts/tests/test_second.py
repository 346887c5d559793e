from .state import current_db, current_user


async def test_waits_for_the_first_module_to_let_go(database):
    assert current_db.get() == "test_second"


async def test_user_of_the_second_module(user):
    assert current_user.get() == "alice@test_second"
