"""The command line's one-line wording of a problem: its code's words, its fields, its code."""

from generation.cli.errors import problem_line
from generation.problems import Problem


def test_fields_in_order_with_flags_dashed_and_numbers_plain():
    problem = Problem("request.cfg_out_of_range", value=25.0, min=1.0, max=20.5, flag="cfg")
    assert (
        problem_line(problem)
        == "cfg out of range: value=25, min=1, max=20.5, flag=--cfg (request.cfg_out_of_range)"
    )


def test_lists_and_missing_values():
    problem = Problem(
        "prompt.unknown_flag", typed="--sed", suggested=None, flags=[["ar", "aspect"], ["seed"]], tiled=True
    )
    assert (
        problem_line(problem)
        == "unknown flag: typed='--sed', flags=[ar/aspect, seed], tiled=true (prompt.unknown_flag)"
    )
    assert problem_line(Problem("request.prompt_empty")) == "prompt empty (request.prompt_empty)"
