def test_url(service_url):
    assert service_url == "http://localhost:1"
