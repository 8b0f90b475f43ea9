"""Do hints carry their code and message, and refuse unknown codes?"""

import pytest

from tapelab.feedback import MISTAKES, Hint, expect


def test_every_named_mistake_has_a_title_and_a_hint():
    """Has every mistake a short title and a longer hint saying what to do? (That each one is made by a
    submission of the catalogue and named by grading: tests/test_feedback_hints.py.)"""
    for code, (title, hint) in MISTAKES.items():
        assert code == code.lower() and " " not in code, code
        assert title and hint.endswith(".") and len(hint) > len(title), code


def test_expect_raises_a_hint_with_code_and_text():
    """Does a failed expectation raise an AssertionError that names the mistake and says what to do?"""
    with pytest.raises(AssertionError) as info:
        expect(False, "no-watch", "x is a tf.constant")
    message = str(info.value)
    assert message.startswith("[no-watch] The gradient is None")
    assert message.endswith("(x is a tf.constant)")
    expect(True, "no-watch")


def test_unknown_code_is_refused():
    """Is a typo in a mistake code caught at once?"""
    with pytest.raises(KeyError, match="unknown mistake code"):
        Hint("no-such-mistake")
