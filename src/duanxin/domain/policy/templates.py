"""Templates: kinds, variables, compilation, review problems, and fast matching.

A template text is fixed text with variables in two styles, ``${name}`` and ``{1}``.
Each variable matches a bounded run of characters without line breaks (by default 1 to
20, see :class:`VariableBounds`); a *code variable* of a verification template matches
4 to 8 ASCII letters or digits instead. Code variables are, in a verification template:

- every ``${name}`` whose case-folded name is one of :data:`CODE_VARIABLE_NAMES`
  (``code``, ``验证码``, ``yzm``, ``vcode``, ``captcha`` ...) or ends with ``code``;
- when it has no such named variable: its lowest-numbered ``{n}`` variable (every
  occurrence of it). Only one, not every ``{n}``: ``您的验证码是{1}，{2}分钟内有效``
  must still accept ``5`` for ``{2}``.

Matching is exact on the fixed text, on the content *body*: the content with the
signatures at its start and end removed (see
:func:`~duanxin.domain.policy.signatures.strip_signatures`) and blanks around it
trimmed. A template registered with its signature is compiled without it, so either
way of registering works.

:class:`TemplateSet` picks candidate templates with one Aho-Corasick pass over the body
(keyed by each template's most selective fixed fragment: shared by the fewest templates,
then the longest), filters them by length, head and tail,
and only then runs their compiled regular expressions; with 1,000 templates that costs a
few microseconds per message.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum

from duanxin.domain.policy._automaton import as_key, build_automaton
from duanxin.domain.policy.errors import PolicyError
from duanxin.domain.policy.optout import has_opt_out_hint
from duanxin.domain.policy.signatures import strip_signatures
from duanxin.domain.policy.words import SensitiveWords

__all__ = [
    "CODE_VARIABLE_NAMES",
    "DEFAULT_BOUNDS",
    "MAX_TEMPLATE_CHARS",
    "MAX_VARIABLES",
    "Template",
    "TemplateKind",
    "TemplateSet",
    "Variable",
    "VariableBounds",
    "compile_template",
    "validate_template",
]

MAX_TEMPLATE_CHARS = 1000
MAX_VARIABLES = 16
CODE_VARIABLE_NAMES = frozenset(
    {"code", "验证码", "yzm", "vcode", "captcha", "otp", "校验码", "动态码"}
)


class TemplateKind(StrEnum):
    VERIFICATION = "verification"
    NOTIFICATION = "notification"
    MARKETING = "marketing"


@dataclass(frozen=True, slots=True)
class VariableBounds:
    """How many characters a variable matches: plain ones, and verification codes."""

    min_chars: int = 1
    max_chars: int = 20
    code_min_chars: int = 4
    code_max_chars: int = 8

    def __post_init__(self) -> None:
        if not 0 <= self.min_chars <= self.max_chars <= MAX_TEMPLATE_CHARS:
            raise PolicyError("variable bounds need 0 <= min_chars <= max_chars <= 1000")
        if not 1 <= self.code_min_chars <= self.code_max_chars <= 64:
            raise PolicyError("code bounds need 1 <= code_min_chars <= code_max_chars <= 64")


DEFAULT_BOUNDS = VariableBounds()


@dataclass(frozen=True, slots=True)
class Variable:
    """One variable occurrence: ``name`` is ``"code"`` for ``${code}``, ``"1"`` for ``{1}``."""

    name: str
    numbered: bool
    code: bool = False

    @property
    def placeholder(self) -> str:
        return f"{{{self.name}}}" if self.numbered else f"${{{self.name}}}"


@dataclass(frozen=True, slots=True, eq=False)
class Template:
    """A compiled template; build it with :func:`compile_template`."""

    id: int
    kind: TemplateKind
    text: str  # as submitted
    literals: tuple[str, ...]  # the fixed fragments around the variables, in order
    variables: tuple[Variable, ...]
    pattern: re.Pattern[str]  # full match of a content body
    min_chars: int  # length bounds of a matching body
    max_chars: int

    def matches(self, content: str) -> bool:
        """True when ``content`` (signed or not) matches this template."""
        return self._matches_body(strip_signatures(content))

    def _matches_body(self, body: str) -> bool:
        return (
            self.min_chars <= len(body) <= self.max_chars
            and body.startswith(self.literals[0])
            and body.endswith(self.literals[-1])
            and self.pattern.fullmatch(body) is not None
        )


_PLACEHOLDER = re.compile(r"\$\{([^{}]*)\}|\{(\d{1,3})\}")
_NAME = re.compile(r"\w{1,32}")


def _parse(body: str) -> tuple[list[str], list[Variable]]:
    """Split a template body into fixed fragments and variables (code flags not yet set)."""
    literals: list[str] = []
    variables: list[Variable] = []
    position = 0
    for found in _PLACEHOLDER.finditer(body):
        literals.append(body[position : found.start()])
        named, number = found.group(1), found.group(2)
        if named is not None and not _NAME.fullmatch(named):
            raise PolicyError(f"bad variable name in ${{{named}}}: 1 to 32 letters, digits or _")
        variables.append(Variable(named if named is not None else number, named is None))
        position = found.end()
    literals.append(body[position:])
    if any("${" in literal for literal in literals):
        raise PolicyError("malformed variable: ${ without a closing }")
    return literals, variables


def _is_code_name(name: str) -> bool:
    folded = name.casefold()
    return folded in CODE_VARIABLE_NAMES or folded.endswith("code")


def _mark_codes(kind: TemplateKind, variables: list[Variable]) -> list[Variable]:
    if kind is not TemplateKind.VERIFICATION:
        return variables
    if any(not v.numbered and _is_code_name(v.name) for v in variables):
        return [
            Variable(v.name, v.numbered, not v.numbered and _is_code_name(v.name))
            for v in variables
        ]
    numbers = [int(v.name) for v in variables if v.numbered]
    if not numbers:
        return variables
    lowest = str(min(numbers))
    return [Variable(v.name, v.numbered, v.numbered and v.name == lowest) for v in variables]


def compile_template(
    template_id: int,
    kind: TemplateKind | str,
    text: str,
    *,
    bounds: VariableBounds = DEFAULT_BOUNDS,
) -> Template:
    """Compile an approved template once; raises :class:`PolicyError` on a malformed text."""
    kind = TemplateKind(kind)
    body = strip_signatures(text)
    if not body:
        raise PolicyError("template is empty")
    if len(body) > MAX_TEMPLATE_CHARS:
        raise PolicyError(f"template is longer than {MAX_TEMPLATE_CHARS} characters")
    literals, variables = _parse(body)
    variables = _mark_codes(kind, variables)
    code = f"[0-9A-Za-z]{{{bounds.code_min_chars},{bounds.code_max_chars}}}"
    plain = f"[^\\r\\n]{{{bounds.min_chars},{bounds.max_chars}}}"
    parts = [re.escape(literals[0])]
    for variable, literal in zip(variables, literals[1:], strict=True):
        parts += [code if variable.code else plain, re.escape(literal)]
    fixed = sum(map(len, literals))
    return Template(
        id=template_id,
        kind=kind,
        text=text,
        literals=tuple(literals),
        variables=tuple(variables),
        pattern=re.compile("".join(parts)),
        min_chars=fixed
        + sum(bounds.code_min_chars if v.code else bounds.min_chars for v in variables),
        max_chars=fixed
        + sum(bounds.code_max_chars if v.code else bounds.max_chars for v in variables),
    )


def validate_template(
    kind: TemplateKind | str,
    text: str,
    *,
    words: SensitiveWords | None = None,
    bounds: VariableBounds = DEFAULT_BOUNDS,
) -> list[str]:
    """The problems of a template submitted for review (empty list: nothing to object).

    Beyond being well formed: at most :data:`MAX_VARIABLES` variables, some fixed text,
    fixed text between any two variables, a code variable in a verification template,
    an opt-out hint at the end of a marketing template, no sensitive word.
    """
    try:
        template = compile_template(0, kind, text, bounds=bounds)
    except PolicyError as exc:
        return [str(exc)]
    except ValueError:
        return [f"unknown template kind {kind!r}"]
    problems: list[str] = []
    if len(template.variables) > MAX_VARIABLES:
        problems.append(f"more than {MAX_VARIABLES} variables")
    if not "".join(template.literals).strip():
        problems.append("template has no fixed text")
    for i, literal in enumerate(template.literals[1:-1]):
        if not literal:
            first, second = template.variables[i].placeholder, template.variables[i + 1].placeholder
            problems.append(f"variables {first} and {second} must be separated by fixed text")
    if template.kind is TemplateKind.VERIFICATION and not any(v.code for v in template.variables):
        problems.append("a verification template needs a code variable (${code} or {1})")
    if template.kind is TemplateKind.MARKETING and not has_opt_out_hint(text):
        problems.append("a marketing template must end with an opt-out hint, e.g. 拒收请回复R")
    hit = words.first_hit(text) if words is not None else None
    if hit is not None:
        problems.append(f"template contains a sensitive word (category {hit.category})")
    return problems


def _anchor(literals: tuple[str, ...], shared: Counter[str]) -> str:
    """The fixed fragment that best singles a template out: shared by the fewest
    templates (a fragment every template has selects them all), then the longest;
    one-character fragments only when there is nothing longer. "" for none."""
    fragments = [f for f in literals if len(f) > 1] or [f for f in literals if f]
    return min(fragments, key=lambda f: (shared[f], -len(f)), default="")


class TemplateSet:
    """An account's approved templates, compiled once; :meth:`match` finds one for a content.

    Immutable: when the account's templates change, build a new set. When several
    templates match, the first in the order given wins (give them in id order).
    """

    __slots__ = ("_automaton", "_templates", "_unanchored")

    def __init__(self, templates: Iterable[Template] = ()) -> None:
        self._templates = tuple(templates)
        shared = Counter(f for t in self._templates for f in set(t.literals) if f)
        anchors: dict[str, list[int]] = {}
        unanchored: list[int] = []
        for index, template in enumerate(self._templates):
            anchor = _anchor(template.literals, shared)
            if anchor:
                anchors.setdefault(anchor, []).append(index)
            else:
                unanchored.append(index)
        self._unanchored = tuple(unanchored)
        self._automaton = build_automaton(
            (anchor, tuple(indexes)) for anchor, indexes in anchors.items()
        )

    def match(self, content: str) -> Template | None:
        """The first template ``content`` (signed or not) matches, or None."""
        return self.match_body(strip_signatures(content))

    def match_body(self, body: str) -> Template | None:
        """:meth:`match` for a body already stripped of its signatures (``split_signatures``)."""
        candidates: set[int] = set(self._unanchored)
        if self._automaton is not None:
            for _end, indexes in self._automaton.iter(as_key(body)):
                candidates.update(indexes)
        templates = self._templates
        for index in sorted(candidates):
            if templates[index]._matches_body(body):
                return templates[index]
        return None

    def __len__(self) -> int:
        return len(self._templates)

    def __iter__(self) -> Iterator[Template]:
        return iter(self._templates)

    def __repr__(self) -> str:
        return f"<TemplateSet {len(self._templates)} templates>"
