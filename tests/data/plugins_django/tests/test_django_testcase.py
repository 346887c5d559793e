from django.test import SimpleTestCase, TestCase, tag

from sampleapp.models import Note


class NoteCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        Note.objects.create(text="class data")

    def test_class_data_is_there(self):
        self.assertEqual(Note.objects.count(), 1)

    def test_changes_roll_back(self):
        Note.objects.create(text="more")
        self.assertEqual(Note.objects.count(), 2)


class TaggedCase(SimpleTestCase):
    @tag("slow")
    def test_tagged_slow(self):
        pass

    def test_untagged(self):
        pass
