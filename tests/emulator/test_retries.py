"""A retried SDK request the emulator already carried out gets the first answer, not a second create."""

import threading

from tools.local_aws.retries import REMEMBERED_ANSWERS, RetryReplay, attempt_number


class CountingApp:
    def __init__(self):
        self.calls = 0

    def __call__(self, environ, start_response):
        self.calls += 1
        start_response("200 OK", [("Content-Type", "text/xml")])
        return [b"<created n='%d'/>" % self.calls]


def request(invocation="inv-1", attempt=1, method="POST"):
    environ = {"REQUEST_METHOD": method}
    if invocation is not None:
        environ["HTTP_AMZ_SDK_INVOCATION_ID"] = invocation
    if attempt is not None:
        environ["HTTP_AMZ_SDK_REQUEST"] = f"attempt={attempt}; max=25"
    return environ


def call(app, environ):
    started = []
    body = b"".join(app(environ, lambda status, headers, exc_info=None: started.append((status, headers))))
    return started[0][0], body


def test_a_retry_of_an_answered_request_gets_the_first_answer_and_is_not_carried_out_again():
    inner, logged = CountingApp(), list[str]()
    app = RetryReplay(inner, log=logged.append)
    assert call(app, request(attempt=1)) == ("200 OK", b"<created n='1'/>")
    assert call(app, request(attempt=2)) == ("200 OK", b"<created n='1'/>")
    assert inner.calls == 1
    assert logged == ["replayed the earlier answer for attempt 2 of inv-1 (200 OK)"]


def test_a_retry_that_arrives_while_its_first_attempt_runs_waits_for_that_answer():
    first_started, release = threading.Event(), threading.Event()

    class SlowApp(CountingApp):
        def __call__(self, environ, start_response):
            first_started.set()
            release.wait(10)
            return super().__call__(environ, start_response)

    inner = SlowApp()
    app = RetryReplay(inner, log=lambda message: None)
    answers = []
    first = threading.Thread(target=lambda: answers.append(call(app, request(attempt=1))))
    first.start()
    assert first_started.wait(10)
    retry = threading.Thread(target=lambda: answers.append(call(app, request(attempt=2))))
    retry.start()
    release.set()
    first.join(10)
    retry.join(10)
    assert answers == [("200 OK", b"<created n='1'/>")] * 2
    assert inner.calls == 1


def test_other_requests_go_to_moto_every_time():
    inner = CountingApp()
    app = RetryReplay(inner, log=lambda message: None)
    call(app, request(invocation="inv-a"))
    call(app, request(invocation="inv-b"))  # another invocation
    call(app, request(invocation="inv-c", attempt=2))  # a retry whose first attempt never arrived
    call(app, request(invocation=None, attempt=None))  # no SDK headers (control endpoints, curl)
    call(app, request(invocation="inv-a", attempt=2, method="GET"))  # reads are safe to repeat
    assert inner.calls == 5


def test_it_remembers_a_bounded_number_of_answers():
    inner = CountingApp()
    app = RetryReplay(inner, log=lambda message: None)
    for index in range(REMEMBERED_ANSWERS + 1):
        call(app, request(invocation=f"inv-{index}"))
    call(app, request(invocation="inv-0", attempt=2))  # forgotten: carried out again
    call(app, request(invocation=f"inv-{REMEMBERED_ANSWERS}", attempt=2))  # remembered
    assert inner.calls == REMEMBERED_ANSWERS + 2


def test_attempt_number_reads_the_sdk_header():
    assert attempt_number({"HTTP_AMZ_SDK_REQUEST": "ttl=20261128T053000Z; attempt=3; max=5"}) == 3
    assert attempt_number({"HTTP_AMZ_SDK_REQUEST": "attempt=1"}) == 1
    assert attempt_number({}) is None
