"""XLSForm ``relevant`` expressions and our conditions, both ways.

What maps (``docs/flows.md``, "XLSForm"): ``${q} = 'x'`` and ``${q} != 'x'`` on a single,
place or text question; ``selected(${q}, 'x')`` on single and multi; ``${q} = ''`` /
``${q} != ''`` (not answered / answered); on a number ``=``, ``!=``, ``<``, ``<=``, ``>``,
``>=`` with a whole number (a comparison becomes the list of numbers it allows); on a consent
``${q} = 'OK'`` (XLSForm's acknowledged value); ``and``, ``or``, ``not(...)`` and brackets. An
``or`` of equalities on one question is our ``one_of``. Anything else (functions such as
``count-selected``, arithmetic, ``.``) is refused with the place in the expression and why.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.questionnaire.flow import (
    All,
    Answered,
    AnyOf,
    Condition,
    Equals,
    Kind,
    Not,
    OneOf,
    Question,
    Scalar,
)

CONSENT_VALUE = "OK"
"""The value XLSForm's ``acknowledge`` type holds once acknowledged."""

MAX_RANGE = 200
"""Most numbers a comparison such as ``${age} >= 18`` may stand for (one_of lists them)."""

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<ref>\$\{[^}]*\})
      | (?P<str>'[^']*'|"[^"]*")
      | (?P<num>-?\d+(?:\.\d+)?)
      | (?P<op>!=|<=|>=|=|<|>)
      | (?P<word>[A-Za-z_][A-Za-z0-9_:-]*)
      | (?P<punct>[(),])
      | (?P<other>\S)
    )""",
    re.VERBOSE,
)

_FLIP = {"=": "=", "!=": "!=", "<": ">", ">": "<", "<=": ">=", ">=": "<="}


class ExpressionError(ValueError):
    """An expression that does not map; ``at`` is the 1-based character where it goes wrong."""

    def __init__(self, message: str, at: int, fix: str) -> None:
        super().__init__(message)
        self.message = message
        self.at = at
        self.fix = fix


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    at: int


def _tokens(text: str) -> list[_Token]:
    tokens = []
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup
        if kind is None:
            continue
        tokens.append(_Token(kind, match.group(kind), match.start(kind) + 1))
    return tokens


_REFUSE_FIX = (
    "reportbot conditions are ${q} = 'x', selected(${q}, 'x'), ${q} != '', comparisons with "
    "a number, and, or, not(...); write the condition with those"
)


class _Parser:
    def __init__(self, text: str, questions: Mapping[str, Question]) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.pos = 0
        self.questions = questions

    def peek(self, offset: int = 0) -> _Token | None:
        at = self.pos + offset
        return self.tokens[at] if at < len(self.tokens) else None

    def fail(self, what: str, token: _Token | None, fix: str = _REFUSE_FIX) -> ExpressionError:
        at = token.at if token is not None else len(self.text) + 1
        return ExpressionError(what, at, fix)

    def take(self, kind: str, text: str | None = None) -> _Token:
        token = self.peek()
        if token is None or token.kind != kind or (text is not None and token.text != text):
            wanted = repr(text) if text is not None else kind
            found = repr(token.text) if token is not None else "the end"
            raise self.fail(f"expected {wanted}, found {found}", token)
        self.pos += 1
        return token

    def word(self, text: str) -> bool:
        token = self.peek()
        return token is not None and token.kind == "word" and token.text == text

    def parse(self) -> Condition:
        cond = self.or_expr()
        token = self.peek()
        if token is not None:
            raise self.fail(f"cannot map {token.text!r} here", token)
        return cond

    def or_expr(self) -> Condition:
        items = [self.and_expr()]
        while self.word("or"):
            self.pos += 1
            items.append(self.and_expr())
        return _one_of(items) if len(items) > 1 else items[0]

    def and_expr(self) -> Condition:
        items = [self.unary()]
        while self.word("and"):
            self.pos += 1
            items.append(self.unary())
        return All(all=items) if len(items) > 1 else items[0]

    def unary(self) -> Condition:
        if self.word("not") and (after := self.peek(1)) is not None and after.text == "(":
            self.pos += 2
            inner = self.or_expr()
            self.take("punct", ")")
            return Not(not_=inner)
        token = self.peek()
        if token is not None and token.text == "(":
            self.pos += 1
            inner = self.or_expr()
            self.take("punct", ")")
            return inner
        if self.word("selected"):
            return self.selected()
        return self.comparison()

    def selected(self) -> Condition:
        start = self.take("word", "selected")
        self.take("punct", "(")
        ref = self.take("ref")
        self.take("punct", ",")
        value = self.take("str")
        self.take("punct", ")")
        qid = _qid(ref, self)
        question = self.questions.get(qid)
        if question is not None and question.kind not in (Kind.SINGLE, Kind.MULTI, Kind.PLACE):
            raise self.fail(
                f"selected() on '{qid}', a {question.kind} question", start, "use = instead"
            )
        return Equals(q=qid, equals=value.text[1:-1])

    def comparison(self) -> Condition:
        first = self.peek()
        if first is None:
            raise self.fail("the condition ends too early", None)
        if first.kind == "ref":
            ref = self.take("ref")
            op = self.take("op")
            value = self.literal()
            return _leaf(self, _qid(ref, self), op, value)
        if first.kind in ("str", "num"):
            value = self.literal()
            op = self.take("op")
            ref = self.take("ref")
            return _leaf(self, _qid(ref, self), _Token("op", _FLIP[op.text], op.at), value)
        raise self.fail(f"cannot map {first.text!r}", first)

    def literal(self) -> _Token:
        token = self.peek()
        if token is None or token.kind not in ("str", "num"):
            found = repr(token.text) if token is not None else "the end"
            raise self.fail(f"expected a value ('x' or a number), found {found}", token)
        self.pos += 1
        return token


def _qid(ref: _Token, parser: _Parser) -> str:
    qid = ref.text[2:-1].strip()
    if not re.fullmatch(r"[a-z][a-z0-9_]*", qid):
        raise parser.fail(f"{ref.text} is not a question id reportbot can use", ref)
    return qid


def _one_of(items: Sequence[Condition]) -> Condition:
    """``a = x or a = y`` is ``{q: a, one_of: [x, y]}``; any other ``or`` stays an ``any``."""
    equals = [item for item in items if isinstance(item, Equals)]
    if len(equals) == len(items) and len({e.q for e in equals}) == 1:
        return OneOf(q=equals[0].q, one_of=[e.equals for e in equals])
    return AnyOf(any=list(items))


def _leaf(parser: _Parser, qid: str, op: _Token, value: _Token) -> Condition:
    question = parser.questions.get(qid)
    text = value.text[1:-1] if value.kind == "str" else value.text
    if value.kind == "str" and text == "" and op.text in ("=", "!="):
        return Answered(q=qid, answered=op.text == "!=")
    if question is not None and question.kind is Kind.NUMBER:
        return _number_leaf(parser, question, op, value)
    if op.text not in ("=", "!="):
        raise parser.fail(f"{op.text} compares numbers, and '{qid}' is not a number", op)
    if question is not None and question.kind is Kind.MULTI:
        raise parser.fail(
            f"= on '{qid}', a select_multiple, is true only when that is the one choice",
            op,
            f"write selected(${{{qid}}}, '{text}')",
        )
    equal = Equals(q=qid, equals=_scalar(parser, question, value))
    return equal if op.text == "=" else Not(not_=equal)


def _scalar(parser: _Parser, question: Question | None, value: _Token) -> Scalar:
    text = value.text[1:-1] if value.kind == "str" else value.text
    if question is not None and question.kind is Kind.CONSENT:
        if text != CONSENT_VALUE:
            raise parser.fail(
                f"an acknowledge question holds only '{CONSENT_VALUE}'",
                value,
                f"compare with '{CONSENT_VALUE}'",
            )
        return True
    if question is not None and question.kind is Kind.DATE and value.kind == "num":
        return int(text)
    if value.kind == "num":
        raise parser.fail(
            f"{text} is a number, but the question holds words", value, f"write '{text}'"
        )
    return text


def _number_leaf(parser: _Parser, question: Question, op: _Token, value: _Token) -> Condition:
    if value.kind != "num" or not re.fullmatch(r"-?\d+", value.text):
        raise parser.fail(
            f"'{question.id}' holds whole numbers; {value.text} is not one",
            value,
            "write a whole number",
        )
    n = int(value.text)
    if op.text in ("=", "!="):
        equal = Equals(q=question.id, equals=n)
        return equal if op.text == "=" else Not(not_=equal)
    low, high = (
        question.min if question.min is not None else n,
        question.max if question.max is not None else n,
    )
    allowed = {
        "<": range(low, n),
        "<=": range(low, n + 1),
        ">": range(n + 1, high + 1),
        ">=": range(n, high + 1),
    }[op.text]
    if not allowed:
        raise parser.fail(
            f"${{{question.id}}} {op.text} {n} can never be true "
            f"('{question.id}' is from {low} to {high})",
            op,
            "compare with a number inside the question's range",
        )
    if len(allowed) > MAX_RANGE:
        raise parser.fail(
            f"this comparison stands for {len(allowed)} numbers, over {MAX_RANGE}",
            op,
            "narrow the question's range (its constraint)",
        )
    return OneOf(q=question.id, one_of=list(allowed))


def parse_relevant(text: str, questions: Mapping[str, Question]) -> Condition:
    """Our condition for an XLSForm expression; ExpressionError names where it cannot map."""
    return _Parser(text, questions).parse()


# ---- writing ---------------------------------------------------------------------------------


def _value(kind: Kind | None, value: Scalar) -> str:
    if kind is Kind.CONSENT and value is True:
        return f"'{CONSENT_VALUE}'"
    if isinstance(value, bool):
        return "true()" if value else "false()"
    if isinstance(value, int):
        return str(value)
    return "'" + value + "'"


def _write_leaf(qid: str, value: Scalar, kinds: Mapping[str, Kind]) -> str:
    kind = kinds.get(qid)
    if kind is Kind.MULTI:
        return f"selected(${{{qid}}}, {_value(kind, value)})"
    return f"${{{qid}}} = {_value(kind, value)}"


def write_relevant(cond: Condition, kinds: Mapping[str, Kind], *, top: bool = True) -> str:
    """The XLSForm expression for a condition (the inverse of :func:`parse_relevant`)."""
    match cond:
        case Equals(q=q, equals=value):
            return _write_leaf(q, value, kinds)
        case OneOf(q=q, one_of=values):
            text = " or ".join(_write_leaf(q, v, kinds) for v in values)
            return text if top or len(values) == 1 else f"({text})"
        case Answered(q=q, answered=answered):
            return f"${{{q}}} != ''" if answered else f"${{{q}}} = ''"
        case Not(not_=inner):
            return f"not({write_relevant(inner, kinds)})"
        case All(all=items):
            text = " and ".join(write_relevant(i, kinds, top=False) for i in items)
            return text if top else f"({text})"
        case AnyOf(any=items):
            text = " or ".join(write_relevant(i, kinds, top=False) for i in items)
            return text if top else f"({text})"
    raise AssertionError(f"unknown condition type {type(cond).__name__}")  # pragma: no cover
