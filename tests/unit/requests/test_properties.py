"""Property-based: whatever text or numbers come in, the parser and validation answer with a request
or the project's own Problem, worded short, quoting the input only as a short escaped excerpt."""

import math
import unicodedata

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.ui.text import MAX_PROBLEM_LENGTH, describe
from generation.cli.errors import problem_line
from generation.problems import Problem
from generation.requests.prompt import flag_spellings, parse_prompt
from generation.requests.request import GenerationRequest, HiresFix, Mode, Variation
from generation.requests.validation import validate
from generation.settings import DefaultSettings, Settings

D = DefaultSettings()
S = Settings()
QUICK = settings(
    max_examples=250,
    deadline=None,
    database=None,  # nothing written into the work tree
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
ECHO = 48  # no stretch of the input this long may appear in a message (excerpts are at most 40)

FLAG_NAMES = [name for names in flag_spellings() for name in names] + ["sed", "foo", "Seed", "x" * 40]
DIGITS = st.text("0123456789", min_size=1, max_size=5000)
NUMBERS = st.one_of(
    st.integers().map(str),
    DIGITS,
    st.builds(lambda sign, d: sign + d, st.sampled_from(["-", "+", ""]), DIGITS),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(
        ["nan", "NaN", "-nan", "inf", "-inf", "Infinity", "∞", "1e999", "-1e999", "1e-999", "random"]
    ),
    st.builds(lambda a, b: f"{a}:{b}", DIGITS, st.one_of(DIGITS, st.sampled_from(["0", "inf", "nan", ".5"]))),
    st.sampled_from(["١٢", "１２", "7.5", ".5", "0.0001", "1_000", "0x10", "1e5"]),
)
FRAGMENTS = st.one_of(
    st.text(max_size=30),  # any unicode at all
    st.builds(
        lambda dash, name: dash + name, st.sampled_from(["--", "—", "–", "-"]), st.sampled_from(FLAG_NAMES)
    ),
    NUMBERS,
    st.sampled_from(list("\"“”„‟＂«»'‘’")),  # every quote, straight and typographic, and apostrophes
    st.sampled_from([" ", "\n", "\t", ",", "=", ":", "x", "@everyone", "`", "**", "<@1234567890123456789>"]),
    st.text(min_size=200, max_size=3000),  # long input
    st.builds(lambda ch, n: ch * n, st.characters(), st.integers(100, 3000)),
)
TEXTS = st.lists(st.tuples(FRAGMENTS, st.sampled_from([" ", "", "  "])), max_size=12).map(
    lambda parts: "".join(text + sep for text, sep in parts)
)


def check_problem(problem: Problem, given: str) -> None:
    """Short, one line, no raw control characters, mentions defused, input only as an excerpt."""
    worded = describe(problem)
    assert "@everyone" not in worded and "@here" not in worded, worded  # the terminal may show them
    for message in (worded, problem_line(problem)):
        assert len(message) < MAX_PROBLEM_LENGTH, (problem.code, message)
        assert "\n" not in message, message
        hidden = [
            ch
            for i, ch in enumerate(message)
            if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Zl", "Zp")
            and not (ch == "\u200b" and message[i - 1 : i] == "@")  # the bot's own mention guard
        ]
        assert not hidden, (problem.code, message)
        for start in range(max(0, len(message) - ECHO)):
            assert message[start : start + ECHO] not in given, (problem.code, message)
    problem.to_dict()  # plain fields: it can be stored and sent


@QUICK
@given(TEXTS)
@example("–APRMUTE000 ")  # found once: its listing of the flags came to exactly the limit
def test_any_prompt_is_a_request_or_a_short_problem(text):
    try:
        request = validate(parse_prompt(text, D), S)
    except Problem as problem:  # PromptError or ValidationError, never a raw Python error
        check_problem(problem, text)
    else:
        assert isinstance(request, GenerationRequest)
        assert S.limits.min_size <= request.width <= S.limits.max_size
        assert math.isfinite(request.cfg_scale) and math.isfinite(request.strength)


ANY_NUMBER = st.one_of(
    st.integers(),
    st.integers(min_value=-(10**5000), max_value=10**5000),
    st.sampled_from([10**4400, -(10**4400), 0, 1, -1, 4294967294, 4294967295]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
)


@QUICK
@given(
    st.fixed_dictionaries(
        {},
        optional={
            name: ANY_NUMBER
            for name in (
                "width",
                "height",
                "steps",
                "cfg_scale",
                "seed",
                "count",
                "strength",
                "upscale_factor",
            )
        },
    ),
    st.sampled_from(list(Mode)),
    st.one_of(st.none(), st.builds(HiresFix, ANY_NUMBER, ANY_NUMBER, st.one_of(st.none(), ANY_NUMBER))),
    st.one_of(st.none(), st.builds(Variation, ANY_NUMBER, ANY_NUMBER)),
)
def test_any_numbers_in_a_request_are_validated_or_refused_by_name(numbers, mode, hires, variation):
    # What slash options, JSON and the command line hand over: already numbers, of any size.
    request = GenerationRequest(
        prompt="a lighthouse", mode=mode, source_image="x.png", hires=hires, variation=variation, **numbers
    )
    try:
        validated = validate(request, S)
    except Problem as problem:
        check_problem(problem, "")
    else:
        assert all(
            type(getattr(validated, name)) is int for name in ("width", "height", "steps", "seed", "count")
        )
