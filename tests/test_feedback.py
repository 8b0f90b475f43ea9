"""Do hints carry their code and message, and refuse unknown codes?"""

import pytest

from tapelab.feedback import MISTAKES, Hint, expect


def test_there_are_twelve_named_mistakes():
    """Does the catalogue name the course's twelve common mistakes?"""
    assert len(MISTAKES) == 12


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
