"""Where `email_html` puts its values: only where HTML escaping makes them safe.

Autoescaping turns `& < > " '` into entities, which keeps a value inside text content and
inside a quoted attribute value. It does not make a value safe as a URL (`href="{{x}}"`
given `javascript:…`, or any link), as CSS (`style`, `<style>`), as script (`on*`,
`<script>`), in an unquoted attribute (`title={{x}}` given `x onmouseover=…`: a space is
not escaped), in a tag or attribute name, in a comment or in an element whose content is
not markup (`<title>`, `<textarea>`, …). The values come from callers (substitutions, the
service's name) while the template is the operator's, so a template that puts a variable
anywhere else is refused when saved (`require_safe_html_outputs`).

How: the part's syntax tree is written out with each `{{ … }}` replaced by a placeholder
holding a space (`vsq0o vsq0p`), and that text is read by Python's `html.parser` (no new
dependency). A placeholder found whole in text, or whole in the value of one of
`TEXT_ATTRIBUTES`, is safe: whole means the value was quoted (an unquoted value ends at
the space). Anything else is refused, naming the variable and where it is.

Where html.parser and a browser read HTML apart, the browser's reading wins: a quoted value
is checked in the tag as written (`title=="…"` is unquoted to a browser), a tag or comment
left open at the end (it runs on into the frame), a `<![…` section html.parser reads past
the browser's `>`, and a variable anywhere in an `email_html` with a `<script>` are refused;
so is a variable after a `</` that no letter follows (`</ style>` ends nothing to a
browser). `<style/>` opens a style as it does in a browser, and `<!-->`, `<!--->` are the
empty comments a browser reads.
tests/unit/test_template_html_contexts.py reads what this accepts with html5lib (the
browsers' algorithm) to hold that.

`{% if %}`: every branch is written out in turn and each boundary (`if`, `elif`, `else`,
`endif`) gets a marker too. Each marker must be in text, or all markers of one `if` in the
same attribute value: then every branch starts and ends in the same context, so whichever
branches a start takes, each value lands where this reading saw it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser

from jinja2 import nodes

from verify_service.domain.templates.syntax import TemplateSourceError, environment

# Attributes whose value is text shown to the reader, nothing a mail reader fetches, runs
# or styles: a quoted, escaped value there is as safe as text.
TEXT_ATTRIBUTES = ("alt", "title", "aria-label", "aria-description", "abbr", "label",
                   "placeholder", "summary")  # fmt: skip
# Elements whose content browsers do not read as markup (raw text, RCDATA, or script and
# style), or that some readers run: a value inside one is refused.
NOT_MARKUP_ELEMENTS = frozenset(
    {"script", "style", "title", "textarea", "xmp", "iframe", "noembed", "noframes",
     "noscript", "plaintext"}
)  # fmt: skip

_ABRUPT_COMMENT = re.compile(r"<!--->|<!-->")
# `</` with no letter after it: no end tag to a browser.
_BOGUS_END_TAG = re.compile(r"</(?![A-Za-z])")
# An attribute and the quoted value it opens, in a lower-cased start tag as written (the
# closing quote is left for the next attribute's separator; linear, no backtracking).
_QUOTED_VALUE = re.compile(r"(?:^|(?<=[\s/\"']))([^\s/>\"'=]+)\s*=\s*(?:\"([^\"]*)|'([^']*))")

_ALLOWED = (
    "in email_html a variable goes in text, or in the quoted value of an "
    f"{', '.join(TEXT_ATTRIBUTES)} attribute (HTML escaping does not make a link, a style, "
    "a script, an event handler, an unquoted attribute or a comment safe)"
)


@dataclass
class _Placeholder:
    text: str  # "vsq0o vsq0p": two words, so an unquoted attribute value splits it
    variable: str  # the variable's name; for an `if` marker, "" (see `group`)
    index: int  # its place in the skeleton: `vsq<index>o vsq<index>p`
    group: int = -1  # an `if` marker: the index of its `if`
    safe: bool = False
    where: str = ""  # where it was found, when not safe


@dataclass
class _Skeleton:
    base: str
    text: list[str] = field(default_factory=list)
    outputs: list[_Placeholder] = field(default_factory=list)
    markers: list[_Placeholder] = field(default_factory=list)
    ifs: int = 0

    def placeholder(self, variable: str, group: int = -1) -> None:
        index = len(self.outputs) + len(self.markers)
        made = _Placeholder(f"{self.base}{index}o {self.base}{index}p", variable, index, group)
        (self.markers if group >= 0 else self.outputs).append(made)
        self.text.append(made.text)


def require_safe_html_outputs(source: str) -> None:
    """TemplateSourceError unless every `{{ … }}` of `source` (an `email_html` already in
    the template language, `syntax.outline`) is in text or a quoted text attribute."""
    lowered = source.lower()
    base = "vsq"
    while base in lowered:
        base += "q"
    skeleton = _Skeleton(base)
    _write(environment(html=True).parse(source).body, skeleton)
    written = "".join(skeleton.text)
    if skeleton.outputs and "<script" in written.lower():
        # Script text has escape states of its own (`<!--<script>` runs past `</script>`)
        # that html.parser does not follow; an e-mail has no use for a script.
        raise TemplateSourceError(
            f"{{{{ {skeleton.outputs[0].variable} }}}} is in an email_html with a <script>, "
            f"which takes no variable: {_ALLOWED}"
        )
    reader = _Reader(skeleton)
    try:
        reader.read(written)
    except AssertionError as exc:  # _markupbase's answer to `<![x>` or `<!x[`, not a 500
        raise TemplateSourceError(f"HTML a browser and this check may read apart: {exc}") from None
    if reader.misread and (skeleton.outputs or skeleton.markers):
        raise TemplateSourceError(
            "in an email_html with variables or {% if %}, a <![…]> section holds no > "
            "(a browser ends it at the first >, where this check could not follow)"
        )
    for output in skeleton.outputs:
        if not output.safe:
            raise TemplateSourceError(
                f"{{{{ {output.variable} }}}} is {output.where or 'inside a tag'}: {_ALLOWED}"
            )
    places: dict[int, set[str]] = {}
    for marker in skeleton.markers:
        places.setdefault(marker.group, set()).add(marker.where if marker.safe else "")
    for where in places.values():
        if "" in where or len(where) != 1:
            raise TemplateSourceError(
                "in email_html an {% if %} opens and closes (elif, else, endif) in text, or "
                "all within one quoted attribute value: not across tags, attributes, "
                "comments or <style>/<script>/<title>/<textarea>"
            )


def _write(body: list[nodes.Node], skeleton: _Skeleton) -> None:
    for node in body:
        if isinstance(node, nodes.Output):
            for child in node.nodes:
                if isinstance(child, nodes.TemplateData):
                    skeleton.text.append(child.data)
                else:
                    skeleton.placeholder(_variable(child))
        elif isinstance(node, nodes.If):
            group = skeleton.ifs
            skeleton.ifs += 1
            skeleton.placeholder("", group)
            _write(node.body, skeleton)
            for branch in node.elif_:
                skeleton.placeholder("", group)
                _write(branch.body, skeleton)
            skeleton.placeholder("", group)
            _write(node.else_, skeleton)
            skeleton.placeholder("", group)


def _variable(node: nodes.Node) -> str:
    named = node.node if isinstance(node, nodes.Filter) else node  # one filter at most
    return str(named.name) if isinstance(named, nodes.Name) else "?"


class _Reader(HTMLParser):
    """Marks each placeholder safe, or says where it is."""

    def __init__(self, skeleton: _Skeleton) -> None:
        super().__init__(convert_charrefs=True)
        self._placeholders = sorted(
            [*skeleton.outputs, *skeleton.markers], key=lambda made: made.index
        )
        base = skeleton.base  # a whole placeholder, else a half of one
        self._half = re.compile(rf"{base}(\d+)o {base}\1p|{base}(\d+)[op]")
        self._not_markup: str | None = None  # the open `NOT_MARKUP_ELEMENTS` element
        self._tags = 0
        self.misread = False  # html.parser read past where a browser ends a `<![…`

    def read(self, text: str) -> None:
        # `</` not followed by a letter (`</ style>`, `</3`): a browser reads a bogus comment
        # or nothing, and does not end a <style> or <title> there; html.parser may.
        bogus = _BOGUS_END_TAG.search(text)
        if bogus is not None:
            self._found(text[bogus.start() :], "after a `</` that no letter follows")
        # A browser ends `<!-->` and `<!--->` at once (empty comments); html.parser reads on
        # to a later `-->`. Written as the empty comment both read alike.
        self.feed(_ABRUPT_COMMENT.sub("<!---->", text))
        left = self.rawdata  # what html.parser waits for more text to read
        if self._not_markup is not None:  # an unclosed <style>'s text, or a <title>'s
            self._found(left, f"inside <{self._not_markup}>")
        elif left.startswith("<"):
            # A tag or comment the text ends in: in the frame it runs on into the frame's
            # markup. Not `close()`d: html.parser would read it as text, in quadratic time.
            self._found(left, "in a tag or comment left open at the end")
        else:
            self.close()  # text after a `&`, held back in case a character reference follows

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._tags += 1
        raw = self.get_starttag_text() or ""
        if self._not_markup is not None:
            self._found(raw, f"inside <{self._not_markup}>")
            return
        if tag in NOT_MARKUP_ELEMENTS:
            self._not_markup = tag
        self._found(tag, "in a tag name")
        quoted = self._quoted(raw.lower()) if attrs else {}
        for name, value in attrs:
            self._found(name, "in an attribute name")
            self._in_attribute(name, value or "", quoted.get(name, set()))
        self._found(raw, "inside a tag")  # what html.parser dropped (`<a "{{x}}">`)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # A browser ignores the `/` of `<style/>`: what follows is the style's text, up to
        # its end tag. Only the elements that may hold markup close there.
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag == self._not_markup and tag != "plaintext":  # nothing ends <plaintext>
            self._not_markup = None

    def handle_data(self, data: str) -> None:
        if self._not_markup is not None:
            self._found(data, f"inside <{self._not_markup}>")
            return
        for placeholder, whole in self._hits(data):
            if whole and not placeholder.where:  # not what `read` found left open
                placeholder.safe, placeholder.where = True, "text"

    def handle_comment(self, data: str) -> None:
        self._found(data, "inside an HTML comment")

    def handle_decl(self, decl: str) -> None:
        self._found(decl, "inside a declaration (<!…>)")

    def unknown_decl(self, data: str) -> None:
        self._found(data, "inside a declaration (<!…>)")
        if ">" in data:  # html.parser reads `<![x>…]>` to the `]>`, a browser to the `>`
            self.misread = True

    def handle_pi(self, data: str) -> None:
        self._found(data, "inside a processing instruction (<?…>)")

    def _quoted(self, raw: str) -> dict[str, set[int]]:
        """Per attribute name, the placeholders a browser reads whole inside its quoted value
        in the tag as written: html.parser also takes `title=="…"` as quoted, where a browser
        reads the value `="…` and the rest as attributes. One pass over the tag."""
        quoted: dict[str, set[int]] = {}
        for match in _QUOTED_VALUE.finditer(raw):
            value = match[2] if match[2] is not None else match[3]
            for placeholder, whole in self._hits(value):
                if whole:
                    quoted.setdefault(match[1], set()).add(placeholder.index)
        return quoted

    def _in_attribute(self, name: str, value: str, quoted_here: set[int]) -> None:
        for placeholder, whole in self._hits(value):
            if placeholder.safe:
                continue
            quoted = placeholder.index in quoted_here
            if self._half.search(name):  # `<a {% if x %}href{% else %}title{% endif %}="…">`
                placeholder.where = "in an attribute whose name a variable or an {% if %} writes"
            elif whole and quoted:
                if placeholder.group >= 0:  # an `if` marker: any quoted value, the same one
                    placeholder.safe, placeholder.where = True, f"{self._tags}:{name}"
                elif name in TEXT_ATTRIBUTES:
                    placeholder.safe, placeholder.where = True, f"the {name} attribute"
                else:
                    placeholder.where = f"in the {name} attribute"
            else:
                placeholder.where = f"in the unquoted value of the {name} attribute"

    def _found(self, text: str, where: str) -> None:
        """Any part of a placeholder in `text` is unsafe there."""
        for placeholder, _ in self._hits(text.lower()):
            if not placeholder.safe and not placeholder.where:
                placeholder.where = where

    def _hits(self, text: str) -> Iterator[tuple[_Placeholder, bool]]:
        """The placeholders `text` holds a half of, each with whether it holds it whole."""
        for match in self._half.finditer(text):
            whole = match[1] is not None
            yield self._placeholders[int(match[1] or match[2])], whole
