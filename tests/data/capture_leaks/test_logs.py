import logging

log = logging.getLogger("app.orders")


def test_logs_then_fails():
    print("<printed before logging>")
    log.debug("<debug is below log_level>")
    log.info("<info order=%s>", 42)
    log.warning("<warning stock low>")
    assert 1 == 2


def test_logs_and_passes():
    log.warning("<warning of a passing test>")


def test_caplog_keeps_working(caplog):
    caplog.set_level(logging.DEBUG, logger="app.orders")
    log.debug("<debug seen by caplog>")
    assert caplog.messages == ["<debug seen by caplog>"]
    assert caplog.record_tuples == [("app.orders", logging.DEBUG, "<debug seen by caplog>")]
