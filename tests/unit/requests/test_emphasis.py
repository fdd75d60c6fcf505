"""The A1111 emphasis syntax: each case to its exact (text, weight) list, and fuzzed brackets."""

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from generation.requests.emphasis import BREAK, is_break, parse_attention

# The web UI's own table (modules/prompt_parser.py), then the cases the issue lists.
TABLE = [
    ("normal text", [("normal text", 1.0)]),
    ("an (important) word", [("an ", 1.0), ("important", 1.1), (" word", 1.0)]),
    ("(unbalanced", [("unbalanced", 1.1)]),
    ("\\(literal\\]", [("(literal]", 1.0)]),
    ("(unnecessary)(parens)", [("unnecessaryparens", 1.1)]),
    (
        "a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).",
        [
            ("a ", 1.0),
            ("house", 1.5730000000000004),
            (" ", 1.1),
            ("on", 1.0),
            (" a ", 1.1),
            ("hill", 0.55),
            (", sun, ", 1.1),
            ("sky", 1.4641000000000006),
            (".", 1.1),
        ],
    ),
    ("(word)", [("word", 1.1)]),
    ("((word))", [("word", 1.2100000000000002)]),
    ("[word]", [("word", 0.9090909090909091)]),
    ("[[word]]", [("word", 0.8264462809917354)]),
    ("(word:1.3)", [("word", 1.3)]),
    ("(several words:0.8)", [("several words", 0.8)]),
    ("(red hair: 1.2 )", [("red hair", 1.2)]),
    ("(a:1.0)", [("a", 1.0)]),
    ("((a:1.5) b)", [("a", 1.6500000000000001), (" b", 1.1)]),
    ("[(a:2)]", [("a", 1.8181818181818181)]),
    ("(neg:-1)", [("neg", -1.0)]),
    ("\\(x\\) \\[y\\] \\\\", [("(x) [y] \\", 1.0)]),
    ("a\\b", [("ab", 1.0)]),  # a lone backslash is dropped
    ("", [("", 1.0)]),
]


@pytest.mark.parametrize(("text", "expected"), TABLE)
def test_the_web_ui_table(text, expected):
    assert parse_attention(text) == expected


UNBALANCED = [
    ("a) b", [("a) b", 1.0)]),  # a closer with nothing open is text
    ("a] b", [("a] b", 1.0)]),
    ("a:1.2) b", [("a:1.2) b", 1.0)]),  # a weight with no round bracket open is text
    ("((a", [("a", 1.2100000000000002)]),  # still open at the end: weights the rest
    ("[a", [("a", 0.9090909090909091)]),
    ("(a]", [("a]", 1.1)]),  # a square closer does not close a round bracket
    ("(a [b:1.5) c", [("a ", 1.5), ("b", 1.3636363636363635), (" c", 0.9090909090909091)]),
    ("(a:1.2.3)", [("a:1.2.3", 1.1)]),  # not a number: literal, the bracket closes plainly
    ("(a:.)", [("a:.", 1.1)]),
    ("a : b", [("a : b", 1.0)]),
]


@pytest.mark.parametrize(("text", "expected"), UNBALANCED)
def test_unbalanced_brackets_as_the_web_ui_reads_them(text, expected):
    assert parse_attention(text) == expected


def test_break():
    assert parse_attention("a cat BREAK a dog") == [("a cat", 1.0), BREAK, ("a dog", 1.0)]
    assert parse_attention("(red:1.2) BREAK blue") == [("red", 1.2), ("", 1.0), BREAK, ("blue", 1.0)]
    assert parse_attention("BREAKFAST break") == [("BREAKFAST break", 1.0)]  # a word of its own
    inside = parse_attention("(a BREAK b)")
    assert inside == [("a", 1.1), ("BREAK", -1.1), ("b", 1.1)]
    assert not any(is_break(piece) for piece in inside)  # scaled inside brackets: just the word
    assert [is_break(p) for p in parse_attention("x BREAK BREAK y")] == [False, True, False, True, False]


BRACKETY = st.text(alphabet="()[]\\:.,-+0123456789 abBREAK\n", max_size=80)


@settings(max_examples=400, deadline=None)
@given(BRACKETY)
def test_fuzzed_brackets_never_crash(text):
    pieces = parse_attention(text)
    assert pieces and all(isinstance(t, str) and isinstance(w, float) for t, w in pieces)
    # Neighbours never share a weight (they are merged).
    assert all(a[1] != b[1] for a, b in itertools.pairwise(pieces))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="()[]\\ ab,.", max_size=60))
def test_without_weights_or_breaks_only_brackets_go(text):
    """No `:N)` and no BREAK: every character but brackets and backslashes is kept, in order."""
    words = "".join(t for t, _ in parse_attention(text))
    assert [c for c in words if c not in "()[]\\"] == [c for c in text if c not in "()[]\\"]


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_any_text_parses(text):
    assert parse_attention(text)
