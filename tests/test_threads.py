"""Concurrency stress: threads training separate models, threads running backward over graphs that
share leaves and nodes, and no_grad in one thread next to training in another, each compared
exactly with the single-threaded result. Barriers force the threads to overlap; no lock is taken
around engine calls (only around collecting results)."""
from __future__ import annotations

import sys
import threading

import numpy as np
import pytest

import autograd_mini as am
from autograd_mini import optim

pytestmark = pytest.mark.filterwarnings("error")

THREADS = 4


@pytest.fixture(autouse=True)
def frequent_thread_switches():
    """Switch threads every 10 us instead of every 5 ms, so they interleave inside the engine's calls."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


def _run_threads(target, count: int = THREADS) -> None:
    errors: list = []

    def guarded(i: int) -> None:
        try:
            target(i)
        except BaseException as error:  # noqa: BLE001 (reported in the test's thread)
            errors.append(error)
    threads = [threading.Thread(target=guarded, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    if errors:
        raise errors[0]


def _train(seed: int, steps: int, barrier: threading.Barrier | None = None) -> list[np.ndarray]:
    """A small tanh MLP trained by SGD with momentum, with an evaluation under no_grad at each step."""
    rng = np.random.default_rng(seed)
    x, y = am.Tensor(rng.standard_normal((8, 3))), am.Tensor(rng.standard_normal((8, 1)))
    w0 = am.Tensor(rng.standard_normal((3, 5)) * 0.5, requires_grad=True)
    w1 = am.Tensor(rng.standard_normal((5, 1)) * 0.5, requires_grad=True)
    opt = optim.SGD([w0, w1], lr=0.05, momentum=0.9)
    losses = []
    for step in range(steps):
        if barrier is not None and step % 50 == 0:
            barrier.wait(30)
        opt.zero_grad()
        loss = ((((x @ w0).tanh() @ w1) - y).square()).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        with am.no_grad():  # an evaluation: on main this switched recording off in every thread
            assert not ((x @ w0).tanh() @ w1).requires_grad
    return [w0.data.copy(), w1.data.copy(), np.array(losses)]


def test_threads_training_separate_models_match_the_single_threaded_runs_exactly():
    steps = 400
    alone = [_train(seed, steps) for seed in range(THREADS)]
    results: dict = {}
    lock = threading.Lock()
    barrier = threading.Barrier(THREADS)

    def work(i: int) -> None:
        out = _train(i, steps, barrier)
        with lock:
            results[i] = out
    _run_threads(work)
    for i in range(THREADS):
        for got, want in zip(results[i], alone[i]):
            np.testing.assert_array_equal(got, want)


def test_threads_backward_over_shared_leaves_and_nodes_sum_exactly():
    # Integer-valued data keeps every sum exact, so the total cannot depend on the order in which
    # the threads' contributions arrive: any difference is a lost (or doubled) contribution.
    w = am.Tensor(np.arange(1.0, 7.0).reshape(2, 3), requires_grad=True)
    shared = (w * w) * 2.0  # nodes reached by every thread's graph: a chain, so sweeps take a while
    for _ in range(10):
        shared = shared * 1.0 + 0.0
    rounds = 200
    barrier = threading.Barrier(THREADS)

    def work(i: int) -> None:
        c = am.Tensor(np.full((2, 3), float(i + 1)))
        for r in range(rounds):
            if r % 25 == 0:
                barrier.wait(30)
            ((shared * c).sum() + (w * c).sum()).backward(retain_graph=True)
    _run_threads(work)
    per_round = sum(4 * w.data * (i + 1) + (i + 1) for i in range(THREADS))
    np.testing.assert_array_equal(w.grad, rounds * per_round)


def test_threads_taking_gradients_of_one_shared_graph_get_the_single_threaded_values():
    w = am.Tensor(np.linspace(-1.0, 1.0, 6), requires_grad=True)
    loss = ((w * 3.0).sigmoid() * w).sum()
    (want,) = am.autograd.grad(loss, [w], retain_graph=True)
    got: list = []
    lock = threading.Lock()
    barrier = threading.Barrier(THREADS)

    def work(i: int) -> None:
        mine = []
        for r in range(100):
            if r % 20 == 0:
                barrier.wait(30)
            mine.append(am.autograd.grad(loss, [w], retain_graph=True)[0].data)
        with lock:
            got.extend(mine)
    _run_threads(work)
    assert len(got) == THREADS * 100
    for g in got:
        np.testing.assert_array_equal(g, want.data)


def test_no_grad_in_one_thread_never_switches_recording_off_in_another():
    stop = threading.Event()
    started = threading.Barrier(2)
    problems: list = []

    def evaluator(_: int) -> None:
        started.wait(10)
        x = am.Tensor([1.0, 2.0], requires_grad=True)
        while not stop.is_set():
            with am.no_grad():
                if (x * 2.0).requires_grad:
                    problems.append("recorded inside no_grad")

    def trainer(_: int) -> None:
        w = am.Tensor([0.5, -0.5], requires_grad=True)
        started.wait(10)
        try:
            for _ in range(3000):
                w.grad = None
                loss = (w * w).sum()
                if not loss.requires_grad or not am.is_grad_enabled():
                    problems.append("not recording in the training thread")
                    break
                loss.backward()
                if w.grad is None:
                    problems.append("a missing gradient")
                    break
        finally:
            stop.set()
    _run_threads(lambda i: (trainer if i == 0 else evaluator)(i), count=2)
    assert problems == []
    assert am.is_grad_enabled()
