"""The template language: a small subset of Jinja, checked node by node.

Parsed by Jinja's `SandboxedEnvironment` with `StrictUndefined`; then every node of the
syntax tree must be one of these, or the template is refused (60200 naming the part):

- literal text;
- `{{ name }}` or `{{ name | filter }}`: a known variable, optionally through one of
  `FILTERS` (no arguments);
- `{% if name %}…{% elif name %}…{% else %}…{% endif %}`, the test a variable or
  `not` a variable.

So no loops, calls, attribute or item access, arithmetic, literals in expressions, macros,
includes, imports, `set`, blocks or extends: a template cannot reach Python objects
(`{{ ''.__class__ }}`), spin (`{% for %}`), or grow (`{{ 'a' * 100000 }}`). The sandbox
is a second wall behind this list, not the only one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from jinja2 import StrictUndefined, TemplateSyntaxError, nodes
from jinja2.sandbox import SandboxedEnvironment

FILTERS = frozenset({"upper", "lower", "title", "capitalize", "trim"})
# `{% if %}` inside `{% if %}`: a message needs a few levels; Python cannot compile the
# code Jinja makes of about a hundred, and Jinja's parser recurses per level.
MAX_IF_DEPTH = 10

# Variables that always render as at least one visible character (a name, digits): the
# link check reads them as a word, so `{{friendly_name}}. Valable` is a full stop, not the
# `bit .ly` of a literal text read with the variables left out.
NEVER_EMPTY = frozenset({"friendly_name", "code", "ttl"})
_STAND_IN = "x"

_TEXT_ENV = SandboxedEnvironment(
    undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True
)
_HTML_ENV = SandboxedEnvironment(
    undefined=StrictUndefined, autoescape=True, keep_trailing_newline=True
)


class TemplateSourceError(ValueError):
    """The source is not in the template language; `reason` says what is wrong."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True, slots=True)
class Outline:
    """What the checks need to know of a parsed part."""

    static_text: tuple[str, ...]  # the literal chunks
    link_text: str  # the literal text, a never-empty variable outside `{% if %}` as a letter
    code_outputs: int  # `{{ code }}` anywhere
    code_outputs_unconditional: int  # `{{ code }}` outside every `{% if %}`


def environment(html: bool) -> SandboxedEnvironment:
    return _HTML_ENV if html else _TEXT_ENV


def outline(source: str, known: frozenset[str], *, html: bool = False) -> Outline:
    """The outline of `source`, or TemplateSourceError if a node is not allowed."""
    try:
        tree = environment(html).parse(source)
    except TemplateSyntaxError as exc:
        raise TemplateSourceError(f"syntax error on line {exc.lineno}: {exc.message}") from None
    except RecursionError:  # `{{ ((((…code…)))) }}`: the parser recurses per level
        raise TemplateSourceError("nested too deeply") from None
    walk = _Walk(known)
    walk.statements(tree.body, conditional=False)
    return Outline(tuple(walk.text), "".join(walk.link_text), walk.codes, walk.unconditional_codes)


class _Walk:
    def __init__(self, known: frozenset[str]) -> None:
        self.known = known
        self.text: list[str] = []
        self.link_text: list[str] = []
        self.codes = 0
        self.unconditional_codes = 0

    def statements(self, body: list[nodes.Node], *, conditional: bool, depth: int = 0) -> None:
        if depth > MAX_IF_DEPTH:
            raise TemplateSourceError(f"{{% if %}} nested more than {MAX_IF_DEPTH} deep")
        for node in body:
            if isinstance(node, nodes.Output):
                for child in node.nodes:
                    self.output(child, conditional=conditional)
            elif isinstance(node, nodes.If):
                for test in _tests(node):
                    self.test(test)
                self.statements(node.body, conditional=True, depth=depth + 1)
                for branch in node.elif_:
                    self.statements(branch.body, conditional=True, depth=depth + 1)
                self.statements(node.else_, conditional=True, depth=depth + 1)
            else:
                raise TemplateSourceError(f"{_describe(node)} is not allowed")

    def output(self, node: nodes.Node | None, *, conditional: bool) -> None:
        if isinstance(node, nodes.TemplateData):
            self.text.append(node.data)
            self.link_text.append(node.data)
            return
        filtered = False
        if isinstance(node, nodes.Filter):
            if node.name not in FILTERS:
                raise TemplateSourceError(
                    f"filter {node.name!r} is not allowed (allowed: {', '.join(sorted(FILTERS))})"
                )
            if node.args or node.kwargs or node.dyn_args or node.dyn_kwargs:
                raise TemplateSourceError(f"filter {node.name!r} takes no arguments here")
            filtered = True
            node = node.node
        name = self.name(node)
        if name in NEVER_EMPTY and not conditional:
            self.link_text.append(_STAND_IN)
        if name == "code" and filtered:
            raise TemplateSourceError("{{ code }} takes no filter: it is sent as generated")
        if name == "code":
            self.codes += 1
            self.unconditional_codes += 0 if conditional else 1

    def test(self, node: nodes.Node) -> None:
        if isinstance(node, nodes.Not):
            node = node.node
        if self.name(node) == "code":
            raise TemplateSourceError("{% if code %} is not allowed: the code is always there")

    def name(self, node: nodes.Node | None) -> str:
        if not isinstance(node, nodes.Name) or node.ctx != "load":
            raise TemplateSourceError(
                f"{_describe(node)} is not allowed: only {{{{ variable }}}} and "
                f"{{{{ variable | filter }}}}"
            )
        if node.name not in self.known:
            raise TemplateSourceError(
                f"unknown variable {node.name!r} (known: {', '.join(sorted(self.known))}; "
                "declare a custom one with its longest length in Variables, [variables] in a file)"
            )
        return str(node.name)


def _tests(node: nodes.If) -> Iterator[nodes.Node]:
    yield node.test
    for branch in node.elif_:
        yield branch.test


_NAMES = {
    nodes.For: "a loop ({% for %})",
    nodes.Macro: "a macro",
    nodes.CallBlock: "a call block",
    nodes.Include: "an include",
    nodes.Import: "an import",
    nodes.FromImport: "an import",
    nodes.Assign: "{% set %}",
    nodes.AssignBlock: "{% set %}",
    nodes.Block: "a block",
    nodes.Extends: "extends",
    nodes.Call: "a call",
    nodes.Getattr: "attribute access",
    nodes.Getitem: "item access",
    nodes.Const: "a literal",
    nodes.BinExpr: "an operator",
    nodes.Test: "a test (is …)",
    nodes.CondExpr: "an inline if",
}


def _describe(node: nodes.Node | None) -> str:
    for kind, described in _NAMES.items():
        if isinstance(node, kind):
            return described
    return type(node).__name__ if node is not None else "nothing"
