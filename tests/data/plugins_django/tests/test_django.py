import pytest
from django.conf import settings


def test_settings_are_the_samples():
    assert settings.SECRET_KEY == "sample only"


@pytest.mark.django_db
def test_database_is_there():
    from sampleapp.models import Note

    Note.objects.create(text="one")
    assert Note.objects.count() == 1


@pytest.mark.django_db
def test_each_test_rolls_back():
    from sampleapp.models import Note

    assert Note.objects.count() == 0


def test_database_without_the_mark_is_blocked():
    from sampleapp.models import Note

    Note.objects.count()


def test_settings_fixture(settings):
    settings.SECRET_KEY = "changed for one test"
    from django.conf import settings as real

    assert real.SECRET_KEY == "changed for one test"
