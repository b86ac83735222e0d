"""resnet.lanes: answers before explanations, each lane as wide as asked."""

import threading
import time

import pytest

from resnet.lanes import AnswersFirst
from tests.conftest import AtOnce, run_together


def test_each_lane_admits_its_width_and_no_more():
    for width in (1, 2):
        lanes, answers, explanations = AnswersFirst(width), AtOnce(), AtOnce()

        def answer():
            with lanes.answer(), answers.hold():
                pass

        def explain():
            with lanes.explanation(), explanations.hold():
                pass

        run_together(*[answer] * 6)
        run_together(*[explain] * 6)
        assert answers.most == explanations.most == width
    with pytest.raises(ValueError):
        AnswersFirst(0)


def test_waiting_answers_go_before_waiting_explanations():
    lanes, order, lock = AnswersFirst(), [], threading.Lock()
    blocker_in, release = threading.Event(), threading.Event()

    def blocker():  # an answer computing while the others arrive
        with lanes.answer():
            blocker_in.set()
            release.wait(5)

    def job(kind):
        with (lanes.answer() if kind == "answer" else lanes.explanation()):
            with lock:
                order.append(kind)
            time.sleep(0.01)

    first = threading.Thread(target=blocker)
    first.start()
    blocker_in.wait(5)
    # Explanations arrive first, then answers; all wait behind the computing answer.
    waiting = [threading.Thread(target=job, args=(kind,)) for kind in ["explanation"] * 4 + ["answer"] * 4]
    for thread in waiting[:4]:
        thread.start()
    time.sleep(0.05)
    for thread in waiting[4:]:
        thread.start()
    time.sleep(0.05)
    release.set()
    for thread in [first, *waiting]:
        thread.join(5)
    assert order == ["answer"] * 4 + ["explanation"] * 4


def test_an_answer_does_not_wait_for_an_explanation_that_is_computing():
    lanes, inside, release = AnswersFirst(), threading.Event(), threading.Event()

    def explain():
        with lanes.explanation():
            inside.set()
            release.wait(5)

    explaining = threading.Thread(target=explain)
    explaining.start()
    inside.wait(5)
    began = time.perf_counter()
    with lanes.answer():
        waited = time.perf_counter() - began
    release.set()
    explaining.join(5)
    assert waited < 0.5
