from shapes.geometry import perimeter_in_thread


def test_perimeter_from_a_thread_the_test_starts():
    assert perimeter_in_thread(2) == 8
