"""Problems: what went wrong, as a code and the values that explain it.

`generation/` never words a message for users: a refusal or a failure leaves it as a `Problem`
(an exception) carrying a stable `code` and plain `fields` (numbers, names, short strings). Front
ends put it into words: the Discord bot in `bot/ui/text.py`, the command line with its own short
formatter. A problem travels as `to_dict()` (in the job store, in events, across processes) and
comes back with `Problem.from_dict`.
"""

from __future__ import annotations

from typing import Any


class Problem(Exception):
    """A refusal or failure a front end explains; `code` names it, `fields` explain it."""

    def __init__(self, code: str, **fields: Any) -> None:
        super().__init__(code)
        self.code = code
        self.fields = fields

    def __str__(self) -> str:
        """A short technical line (logs, the command line): the code and its fields."""
        if not self.fields:
            return self.code
        return f"{self.code} (" + ", ".join(f"{k}={v!r}" for k, v in self.fields.items()) + ")"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, **{self.fields!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Problem) and (self.code, self.fields) == (other.code, other.fields)

    def __hash__(self) -> int:
        return hash(self.code)

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, **self.fields}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Problem:
        data = dict(data)
        return cls(str(data.pop("code")), **data)
