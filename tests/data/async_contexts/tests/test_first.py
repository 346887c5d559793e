from .state import current_db, current_mode, current_trace, current_user


async def test_module_fixture_sets_the_context(database):
    assert current_db.get() == database == "test_first"


async def test_a_later_test_sees_it_too(database):
    assert current_db.get() == "test_first"


async def test_function_fixture_on_top(user):
    assert current_user.get() == user == "alice@test_first"
    assert current_db.get() == "test_first"


async def test_user_is_reset_after_its_test(database):
    assert current_user.get() is None


async def test_plain_async_fixture_sets_the_context(mode):
    assert current_mode.get() == "fast"


def test_sync_test_sees_an_async_fixtures_context(user):
    assert current_user.get() == "alice@test_first"


async def test_sync_module_fixture_in_an_async_test(sync_mode):
    assert current_mode.get() == "sync"


async def test_async_fixture_through_getfixturevalue(by_name):
    assert by_name == {"open": True}


def test_async_fixture_through_getfixturevalue_sync(by_name):
    assert by_name == {"open": True}


async def test_sync_fixture_with_a_finalizer(tracing):
    assert current_trace.get() == tracing
