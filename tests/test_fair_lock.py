"""The SQLite writer lock hands over in arrival order and lets its holder re-enter."""

from __future__ import annotations

import threading
import time

from bot.db import FairLock


def test_waiters_get_the_lock_in_arrival_order() -> None:
    lock = FairLock()
    order: list[int] = []
    threads = []
    with lock:
        for n in range(6):
            thread = threading.Thread(target=lambda n=n: _take(lock, order, n))
            thread.start()
            threads.append(thread)
            time.sleep(0.02)  # each takes its ticket before the next starts
    for thread in threads:
        thread.join(timeout=5)
    assert order == [0, 1, 2, 3, 4, 5]


def _take(lock: FairLock, order: list[int], n: int) -> None:
    with lock:
        order.append(n)


def test_the_holder_can_enter_again() -> None:
    lock = FairLock()
    with lock, lock:
        pass
    done = threading.Event()
    threading.Thread(target=lambda: (lock.__enter__(), done.set(), lock.__exit__())).start()
    assert done.wait(timeout=2)  # fully released after the nested exit
