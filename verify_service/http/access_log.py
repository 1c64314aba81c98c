"""What the access log (`serve --access-log`) may show of a request: its route, never a
personal value in any spelling.

A phone number or an e-mail address reaches a URL in many spellings (`%2B14155552671`,
`+1-415-555-2671`, `%2B1%20415…`, `victim%40example.com`, …); rather than recognise each, the
log keeps only what is known not to be personal and replaces everything else by `*`:

- a path segment is kept when it is a sid (`VA` + 32 hex digits) or a plain word (letters,
  `.`, `_`, `-`, and an API version such as `v2`); any other segment is `*`;
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
_WORD = re.compile(r"v[0-9]{1,2}|[A-Za-z][A-Za-z._-]{0,63}")


def _segment(segment: str) -> str:
    if segment == "" or _SID.fullmatch(segment) or _WORD.fullmatch(segment):
        return segment
    return MASK


def loggable_path(path: str) -> str:
    """The path with every segment that is neither a sid nor a plain word replaced by `*`."""
    return "/".join(_segment(segment) for segment in path.split("/"))


def loggable_query(query: str) -> str:
    """The query string's parameter names (plain words only), each value shown as `*`."""
    if not query:
        return ""
    pairs = []
    for pair in query.split("&"):
        name, has_value, _value = pair.partition("=")
        name = name if _WORD.fullmatch(name) else MASK
        pairs.append(f"{name}={MASK}" if has_value else name)
    return "&".join(pairs)


def loggable_user(user: str) -> str:
    """The Basic user name: a sid, or `-` for none, as given; anything else `*`."""
    return user if user == "-" or _SID.fullmatch(user) else MASK


def loggable_target(target: str) -> str:
    """A request target (`/path?query`) as the log may show it."""
    path, has_query, query = target.partition("?")
    masked = loggable_path(path.partition("#")[0])
    return f"{masked}?{loggable_query(query)}" if has_query else masked


def loggable_url(url: str) -> str:
    """An absolute URL (a `Referer`): scheme and host kept, its target as above."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return loggable_target(url) if url.startswith("/") else (MASK if url != "-" else url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    host = parts.netloc.rpartition("@")[2]  # never a user name or password
    return f"{parts.scheme}://{host}{loggable_target(target)}"


def loggable_request_line(line: str) -> str:
    """`METHOD target PROTOCOL` with the target as above."""
    method, _, rest = line.partition(" ")
    target, _, protocol = rest.rpartition(" ")
    if not target:  # no protocol: the whole rest is the target
        target, protocol = rest, ""
    masked = f"{method} {loggable_target(target)}"
    return f"{masked} {protocol}" if protocol else masked
