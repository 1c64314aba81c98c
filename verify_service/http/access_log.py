"""What the access log (`serve --access-log`) may show of a request: its route, never a
personal value in any spelling.

A phone number or an e-mail address reaches a URL in many spellings (`%2B14155552671`,
`+1-415-555-2671`, `%2B1%20415…`, `victim%40example.com`, …); rather than recognise each, the
log keeps only what is known not to be personal and replaces everything else by `*`:

- when the request matched a route, its path is masked by the route's template: a literal
  segment of the template is kept, a placeholder's value (`/Entities/<identity>`,
  `/Numbers/<phone_number>`) is kept only when it is a sid, else `*`, however word-like
  (`/Entities/alice/Factors` is logged `/Entities/*/Factors`);
- otherwise (a 404, or a template of another shape), a path segment is kept when it is a sid
  (`VA` + 32 hex digits), a plain word (letters, `_`, `-`, and an API version such as `v2`)
  or a static file's name (`console.css`); any other segment is `*`, a dotted word too
  (`probe.target`, `victim-domain.org`: part of an address);
- a query string keeps its parameter names (plain words, else `*`) and shows every value as
  `*`;
- the Basic user name is kept when it is a sid (the account's `AC…`, a key's `SK…`), else `*`.

`/v2/SafeList/Numbers/+1-415-555-2671?PageSize=5` is logged `/v2/SafeList/Numbers/*?PageSize=*`.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

MASK = "*"
_SID = re.compile(r"[A-Z]{2}[0-9a-f]{32}")
_WORD = re.compile(r"v[0-9]{1,2}|[A-Za-z][A-Za-z_-]{0,63}")
# A query parameter's name (`ChannelData.To`): a word, dots allowed.
_PARAMETER = re.compile(r"[A-Za-z][A-Za-z._-]{0,63}")
_STATIC_FILE = re.compile(
    r"[A-Za-z][A-Za-z_-]{0,63}(\.min)?\.(css|js|mjs|map|png|svg|ico|woff2?|txt|json|html)"
)
_HOST = re.compile(r"[A-Za-z0-9.:\[\]-]{1,255}")
_PLACEHOLDER = re.compile(r"<([a-z]+:)?[A-Za-z_]+>")


def _segment(segment: str) -> str:
    if (
        segment == ""
        or _SID.fullmatch(segment)
        or _WORD.fullmatch(segment)
        or _STATIC_FILE.fullmatch(segment)
    ):
        return segment
    return MASK


def _by_template(segment: str, template: str) -> str:
    if _PLACEHOLDER.fullmatch(template):
        return segment if _SID.fullmatch(segment) else MASK
    return segment if segment == template else MASK


def loggable_path(path: str, template: str | None = None) -> str:
    """The path masked by its route's `template` (a URL rule, `/v2/Services/<service_sid>`)
    when it has one of the same shape, else every segment that is neither a sid, a plain
    word nor a static file's name replaced by `*`."""
    segments = path.split("/")
    if template is not None and "<path:" not in template:
        templates = template.split("/")
        if len(templates) == len(segments):
            return "/".join(map(_by_template, segments, templates))
    return "/".join(_segment(segment) for segment in segments)


def loggable_query(query: str) -> str:
    """The query string's parameter names (plain words only), each value shown as `*`."""
    if not query:
        return ""
    pairs = []
    for pair in query.split("&"):
        name, has_value, _value = pair.partition("=")
        name = name if _PARAMETER.fullmatch(name) else MASK
        pairs.append(f"{name}={MASK}" if has_value else name)
    return "&".join(pairs)


def loggable_user(user: str) -> str:
    """The Basic user name: a sid, or `-` for none, as given; anything else `*`."""
    return user if user == "-" or _SID.fullmatch(user) else MASK


def loggable_target(target: str, template: str | None = None) -> str:
    """A request target (`/path?query`) as the log may show it."""
    path, has_query, query = target.partition("?")
    masked = loggable_path(path.partition("#")[0], template)
    return f"{masked}?{loggable_query(query)}" if has_query else masked


def loggable_url(url: str) -> str:
    """An absolute URL (a `Referer`): scheme and host kept, its target as above."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return loggable_target(url) if url.startswith("/") else (MASK if url != "-" else url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    host = parts.netloc.rpartition("@")[2]  # never a user name or password
    host = host if _HOST.fullmatch(host) else MASK
    return f"{parts.scheme}://{host}{loggable_target(target)}"


def loggable_request_line(line: str, template: str | None = None) -> str:
    """`METHOD target PROTOCOL` with the target as above."""
    method, _, rest = line.partition(" ")
    target, _, protocol = rest.rpartition(" ")
    if not target:  # no protocol: the whole rest is the target
        target, protocol = rest, ""
    masked = f"{method} {loggable_target(target, template)}"
    return f"{masked} {protocol}" if protocol else masked


_PRODUCT = re.compile(r"[A-Za-z][A-Za-z0-9._+-]{0,63}(/[A-Za-z0-9._+-]{1,32})?")
_DIGIT_RUN = re.compile(r"[0-9]{5}")
MAX_USER_AGENT_TOKENS = 8


def loggable_user_agent(user_agent: str) -> str:
    """A `User-Agent` reduced to its product tokens (`twilio-python/9.0.0 Python/3.11.4`):
    comments in parentheses are dropped, and a token that is not `name[/version]`, holds
    five digits in a row (a phone number's piece) or an `@` is `*`. Never a quote or a
    backslash, so the text line's quoted field stays one field."""
    if user_agent in ("", "-"):
        return user_agent
    tokens = re.sub(r"\([^)]*\)?", " ", user_agent).split()
    shown = [
        token if _PRODUCT.fullmatch(token) and not _DIGIT_RUN.search(token) else MASK
        for token in tokens[:MAX_USER_AGENT_TOKENS]
    ]
    return " ".join(shown) or MASK
