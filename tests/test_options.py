"""Command-line values shared by fsvae-live, its processes and fsvae listen."""

import argparse

import pytest

from realtime import capture, inference, live
from realtime.options import positive_count, positive_seconds


@pytest.mark.parametrize("text, value", [("0.25", 0.25), ("3", 3.0), ("1e-3", 0.001)])
def test_a_span_of_time_is_a_positive_number_of_seconds(text, value):
    assert positive_seconds(text) == value


@pytest.mark.parametrize("text, words", [("0", "positive"), ("-1", "positive"), ("inf", "positive"),
                                         ("nan", "positive"), ("soon", "expected seconds")])
def test_a_span_that_is_not_a_positive_number_of_seconds_is_refused_saying_why(text, words):
    with pytest.raises(argparse.ArgumentTypeError, match=words):
        positive_seconds(text)


def test_a_count_is_a_whole_number_of_at_least_one():
    assert positive_count("5") == 5
    for text in ("0", "-1", "2.5", "many"):
        with pytest.raises(argparse.ArgumentTypeError):
            positive_count(text)


@pytest.mark.parametrize("main, argv", [(live.main, ["--skeleton", "x.skeleton"]),
                                        (capture.main, ["--skeleton", "x.skeleton"]),
                                        (inference.main, ["--bundle", "b"])])
def test_every_process_refuses_a_duration_that_has_already_passed(main, argv, capsys):
    with pytest.raises(SystemExit) as stopped:
        main([*argv, "--duration", "-1"])
    assert stopped.value.code == 2 and "--duration: must be a positive number of seconds" in capsys.readouterr().err


def test_listen_refuses_a_count_or_timeout_below_one(capsys):
    from fsvae_core.cli import main as fsvae

    for argv in (["--count", "0"], ["--timeout", "-1"]):
        with pytest.raises(SystemExit) as stopped:
            fsvae(["listen", "tcp://127.0.0.1:5561", *argv])
        assert stopped.value.code == 2 and argv[0] in capsys.readouterr().err
