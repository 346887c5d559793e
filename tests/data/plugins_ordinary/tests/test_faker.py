def test_faker_makes_names(faker):
    name = faker.name()
    assert isinstance(name, str) and name


def test_faker_is_seeded_per_test(faker):
    # Faker's plugin seeds its instance with 0 before each test (faker_seed).
    first = faker.pyint()
    faker.seed_instance(0)
    assert faker.pyint() == first


def test_faker_locale_default(faker):
    assert faker.locales == ["en_US"]
