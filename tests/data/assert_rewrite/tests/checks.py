def check_total(items, expected):
    total = sum(items)
    assert total == expected
