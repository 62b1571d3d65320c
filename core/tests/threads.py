"""Real concurrency in tests (PostgreSQL): callables run in threads that a barrier releases together."""

import threading

from django.db import connection


def run_concurrently(calls, *, timeout: float = 120):
    """Run each zero-argument callable in its own thread (its own database connection, closed at the end),
    all released at once. Returns [(result or None, exception or None)] in the order of `calls`."""
    barrier = threading.Barrier(len(calls))
    outcomes = [None] * len(calls)

    def worker(i, call):
        try:
            barrier.wait(timeout=30)
            outcomes[i] = (call(), None)
        except Exception as exc:  # collected and asserted on by the test
            outcomes[i] = (None, exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, call)) for i, call in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout)
    assert not any(t.is_alive() for t in threads), "a thread hung (deadlock?)"
    return outcomes
