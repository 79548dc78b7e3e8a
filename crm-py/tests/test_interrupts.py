"""Ctrl-C and progress in the long analytics calls: a real SIGINT stops a fit running with
the GIL released within a second, as KeyboardInterrupt; a progress callback sees each step
and can stop the call (crm.CancelledError); a crm error raised while an interrupt is pending
comes out as KeyboardInterrupt, not as "crm could not raise its own exception"."""

from __future__ import annotations

import functools
import json
import random
import signal
import subprocess
import sys
import threading
import time
from typing import Any, Iterator, List, Optional, Tuple

import pytest

import crm
from crm import _crm
from crm.analytics import BetaGeoFitter, GammaGammaFitter

END = "2026-10-31T23:59:59Z"


@pytest.fixture
def sigint() -> Iterator[None]:
    """Python's own SIGINT handler (KeyboardInterrupt) for the test, whatever pytest set."""
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, old)


def interrupt_after(delay: float, sent: List[float], start: Optional[threading.Event] = None) -> threading.Thread:
    """A thread that sends SIGINT to the main thread `delay` seconds after `start` is set
    (or at once), and notes when."""

    def run() -> None:
        if start is not None:
            start.wait(30)
        time.sleep(delay)
        sent.append(time.monotonic())
        signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


@functools.lru_cache(maxsize=None)
def histories(n: int, seed: int = 1) -> Tuple[List[int], List[float], List[float]]:
    """`n` distinct BG/NBD histories: nothing to group, so each likelihood evaluation costs
    `n` rows, and random ones fit badly: with 200,000 the fit runs for a minute or more."""
    rng = random.Random(seed)
    f, r, t = [], [], []
    for _ in range(n):
        big_t = rng.uniform(30.0, 400.0)
        x = rng.randrange(0, 12)
        f.append(x)
        r.append(rng.uniform(0.0, big_t) if x else 0.0)
        t.append(big_t)
    return f, r, t


BIG = 200_000
FIT = json.dumps({"penalizer": 0.0, "max_iterations": 500, "tolerance": 1e-7})


def test_ctrl_c_stops_a_fit_within_a_second(sigint: None) -> None:
    f, r, t = histories(BIG)
    sent: List[float] = []
    interrupt_after(0.3, sent)
    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        _crm.bgnbd_fit(f, r, t, None, FIT)
    stopped = time.monotonic()
    assert sent, "the fit ended before the signal: it must take longer for this test to mean anything"
    assert sent[0] - start >= 0.29, "the signal came while the fit ran in native code"
    assert stopped - sent[0] < 1.0, f"KeyboardInterrupt took {stopped - sent[0]:.2f} s"


def test_ctrl_c_stops_the_public_fit(sigint: None) -> None:
    f, r, t = histories(BIG)
    started = threading.Event()
    seen: List[Tuple[str, int, Optional[int]]] = []

    def progress(step: str, done: int, total: Optional[int]) -> None:
        seen.append((step, done, total))
        started.set()

    sent: List[float] = []
    interrupt_after(0.3, sent, started)
    with pytest.raises(KeyboardInterrupt):
        BetaGeoFitter().fit(f, r, t, progress=progress)
    stopped = time.monotonic()
    assert sent and stopped - sent[0] < 1.0
    assert seen[0][0] == "fit_bgnbd"


def test_progress_reports_steps_and_false_cancels(db: crm.Crm) -> None:
    data = crm.synth.generate(customers=300, seed=4, kinds=("customers", "orders"))
    db.ingest_customers(data["customers"])
    db.ingest_orders(data["orders"])
    before = (db.counts(), db.changes_since(0, 10_000)[-1].seq)
    seen: List[Tuple[str, int, Optional[int]]] = []
    values = crm.analytics.customer_values(db, "USD", END, penalizer_coef=0.001,
                                           progress=lambda *a: seen.append(a))
    steps = [s for s, _, _ in seen]
    assert [s for i, s in enumerate(steps) if i == 0 or steps[i - 1] != s] == [
        "summary", "fit_bgnbd", "fit_gamma_gamma", "score"]
    assert seen[-1] == ("score", len(values), len(values))
    assert values.equals(crm.analytics.customer_values(db, "USD", END, penalizer_coef=0.001, progress=False))

    for stop_at in ("summary", "fit_bgnbd", "fit_gamma_gamma", "score"):
        asked: List[str] = []

        def stop(step: str, done: int, total: Optional[int]) -> Any:
            asked.append(step)
            return step != stop_at  # False (exactly) stops

        with pytest.raises(crm.CancelledError):
            crm.analytics.customer_values(db, "USD", END, penalizer_coef=0.001, progress=stop)
        assert asked[-1] == stop_at and asked.count(stop_at) == 1, "nothing is asked after the stop"
    with pytest.raises(ZeroDivisionError):
        crm.analytics.summary(db, "USD", END, progress=lambda *a: 1 / 0)
    with pytest.raises(crm.CancelledError):
        GammaGammaFitter().fit([1, 2, 3], [100.0, 200.0, 150.0], progress=lambda *a: False)
    assert (db.counts(), db.changes_since(0, 10_000)[-1].seq) == before, "nothing was written"


# Holds SQLite's write lock on a file from another process (locks taken by another SQLite
# library in this process would not be seen: POSIX locks are per process) until stdin closes.
LOCKER = """
import sqlite3, sys
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN IMMEDIATE")
c.execute("CREATE TABLE lock_holder(x)")
print("locked", flush=True)
sys.stdin.read()
c.execute("ROLLBACK")
"""


def test_a_crm_error_with_an_interrupt_pending_is_keyboard_interrupt(sigint: None, tmp_path) -> None:
    path = tmp_path / "locked.db"
    db = crm.open(path, sqlite={"busy_timeout": 1.5})
    db.create_customer({"name": "Ada"})
    locker = subprocess.Popen([sys.executable, "-c", LOCKER, str(path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert locker.stdout is not None and locker.stdout.readline().strip() == "locked"
        # Without an interrupt: the write waits out the busy timeout and fails with crm's error.
        with pytest.raises(crm.StorageError):
            crm.open(path, sqlite={"busy_timeout": 0.05}).create_customer({"name": "Bob"})
        # With Ctrl-C pressed while it waits: the interrupt, not "could not raise".
        sent: List[float] = []
        interrupt_after(0.3, sent)
        with pytest.raises(KeyboardInterrupt) as e:
            db.create_customer({"name": "Bob"})
        assert sent, "the interrupt arrived while the write waited"
        assert "could not raise" not in str(e.value)
        # It came out of making crm's exception: the path that used to end in RuntimeError.
        assert e.traceback[-1].path.name == "exceptions.py", e.traceback[-1]
    finally:
        locker.communicate("")
    assert db.counts().customers == 1
    db.close()


def test_progress_true_shows_a_bar_per_step(db: crm.Crm, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("tqdm")
    data = crm.synth.generate(customers=200, seed=4, kinds=("customers", "orders"))
    db.ingest_customers(data["customers"])
    db.ingest_orders(data["orders"])
    quiet = crm.analytics.customer_values(db, "USD", END, penalizer_coef=0.001)
    assert "scoring customers" not in capsys.readouterr().err, "progress=None shows nothing for a short call"
    shown = crm.analytics.customer_values(db, "USD", END, penalizer_coef=0.001, progress=True)
    err = capsys.readouterr().err
    for label in ("reading orders", "fitting BG/NBD", "fitting Gamma-Gamma", "scoring customers"):
        assert f"customer_values: {label}" in err, err
    assert shown.equals(quiet)
