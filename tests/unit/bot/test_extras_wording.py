"""The problems of styles, variants and reading other tools' images each have their sentence in
bot/ui/text.py, no sentence is left over, and the sentences read as meant."""

import re
from pathlib import Path

import generation
from bot.ui.text import PROBLEMS, describe
from generation.images.reading import ReadingError
from generation.requests.styles import StyleError
from generation.requests.wildcards import VariantError

CODE = re.compile(r'"((?:style|variants|reading)\.[a-z0-9_]+)"')
SOURCES = ("requests/styles.py", "requests/wildcards.py", "images/reading.py")


def test_every_code_is_worded_and_every_wording_is_used():
    root = Path(generation.__file__).parent
    raised = {code for name in SOURCES for code in CODE.findall((root / name).read_text(encoding="utf-8"))}
    worded = {code for code in PROBLEMS if code.startswith(("style.", "variants.", "reading."))}
    assert len(raised) >= 18
    assert raised == worded


def test_the_sentences_name_what_to_do():
    assert "did you mean `Cinematic`" in describe(
        StyleError("style.unknown", name="cin", suggested=["Cinematic"], count=3)
    )
    assert "/style add" in describe(StyleError("style.unknown", name="cin", suggested=[], count=0))
    assert "`__colors__`" in describe(
        VariantError("variants.unknown_wildcard", name="colours", suggested=["colors"], count=2)
    )
    many = describe(
        VariantError("variants.too_many_jobs", combinations=6, counted=100, repeat=2, jobs=12, max=8)
    )
    assert "6 combinations x 2 repeats = 12 jobs" in many and "at most 8" in many
    assert "more than 100 jobs" in describe(
        VariantError("variants.too_many_jobs", combinations=None, counted=100, repeat=1, jobs=None, max=8)
    )
    assert "near “a {red”" in describe(VariantError("variants.syntax", position=2, excerpt="a {red"))
    assert "1024x768" in describe(ReadingError("reading.size_changed", given=[4096, 3072], used=[1024, 768]))
    assert "the active model `tiny`" in describe(
        ReadingError("reading.model_missing", given="x", used="tiny")
    )
