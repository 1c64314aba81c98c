"""The HTML of a verification e-mail: one layout that renders alike in Gmail, Outlook and
Apple Mail (docs/messages.md, "Branded e-mail").

What mail readers need, and so what this writes: tables for layout (Outlook's Word engine
knows no flexbox or max-width on a div), inline styles (Gmail drops most `<style>` rules;
the one `<style>` here only adds a dark scheme where it is understood), at most 600 px wide
and fluid below, a hidden preheader (the inbox's preview line), `color-scheme` metas, and
nothing fetched from elsewhere: no image, font, link or script. Every value is escaped here;
`document` takes a body that is already HTML (ours from `code_email_body`, or an operator's
template body rendered with autoescape) and wraps it in the same frame.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

FONT = "-apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,Helvetica,Arial,sans-serif"
MONO = "ui-monospace,SFMono-Regular,Menlo,Consolas,'Liberation Mono','Courier New',monospace"
INK = "#1f2328"
MUTED = "#59636e"
PAGE = "#f3f4f6"
CARD = "#ffffff"
LINE = "#d9dde3"
CODE_BACKGROUND = "#eef1f5"

# Narrow screens (phones): less padding and a smaller code, so the longest code (10
# characters) fits 320 px. Where media queries are not read, the code may wrap; it never
# makes the message scroll sideways.
_NARROW = (
    "@media (max-width:480px){"
    ".vs-outer{padding:12px 6px !important}"
    ".vs-cell{padding-left:16px !important;padding-right:16px !important}"
    ".vs-code{font-size:28px !important;letter-spacing:4px !important;"
    "padding:10px 12px 10px 16px !important}"
    "}"
)
# Clients that honour `prefers-color-scheme` (Apple Mail, Outlook.com, Thunderbird) get a
# dark card; the others keep the light one, which the color-scheme metas declare readable.
_DARK_SCHEME = (
    "@media (prefers-color-scheme: dark){"
    ".vs-page{background-color:#111418 !important}"
    ".vs-card{background-color:#1b1f24 !important;border-color:#2d333b !important}"
    ".vs-ink{color:#e6e8eb !important}"
    ".vs-muted{color:#a4acb6 !important;border-color:#2d333b !important}"
    ".vs-code{background-color:#262c33 !important;color:#ffffff !important}"
    "}"
)


@dataclass(frozen=True, slots=True)
class CodeEmail:
    """The words of a code e-mail, as plain text (escaped when written)."""

    locale: str
    right_to_left: bool
    title: str  # the subject: the document's <title>
    preheader: str  # the inbox's preview line
    heading: str  # the service's name
    lead: str  # the sentence before the code
    code: str
    terms: str | None = None  # the PSD2 terms (amount and payee), without the code
    footnote: str | None = None  # "didn't ask for this code? ignore this e-mail"


def code_email_html(email: CodeEmail) -> str:
    """The whole HTML document of a code e-mail."""
    return document(
        locale=email.locale,
        right_to_left=email.right_to_left,
        title=email.title,
        preheader=email.preheader,
        body_html=code_email_body(email),
    )


def code_email_body(email: CodeEmail) -> str:
    """The card's rows: the name, the lead, the code, the terms and the footnote."""
    rows = [
        _row(
            email.heading,
            f"padding:28px 32px 4px;font-size:20px;line-height:28px;font-weight:700;color:{INK}",
            "vs-ink",
        ),
        _row(email.lead, f"padding:4px 32px 16px;font-size:16px;line-height:24px;color:{INK}"),
        code_row(email.code),
    ]
    if email.terms:
        rows.append(
            _row(email.terms, f"padding:0 32px 16px;font-size:16px;line-height:24px;color:{INK}")
        )
    if email.footnote:
        rows.append(
            _row(
                email.footnote,
                f"padding:8px 32px 28px;font-size:13px;line-height:20px;color:{MUTED};"
                f"border-top:1px solid {LINE}",
                "vs-muted",
            )
        )
    return "\n".join(rows)


def code_row(code: str) -> str:
    """The code, large, monospaced and spaced out, left to right in every language (so an
    Arabic or Hebrew e-mail shows 1234 as 1234), in a box a reader can select from."""
    style = (
        # The right padding is short by the letter spacing the last character carries.
        f"display:inline-block;margin:0;padding:12px 14px 12px 20px;font-family:{MONO};"
        f"font-size:32px;line-height:40px;font-weight:700;letter-spacing:6px;color:{INK};"
        f"background-color:{CODE_BACKGROUND};border-radius:6px;word-break:break-all"
    )
    return (
        '<tr><td class="vs-cell" align="center" style="padding:8px 32px 24px">'
        f'<code class="vs-code" dir="ltr" style="{style}">{html.escape(code)}</code>'
        "</td></tr>"
    )


def _row(text: str, style: str, css_class: str = "vs-ink") -> str:
    return (
        f'<tr><td class="vs-cell {css_class}" style="font-family:{FONT};{style}">'
        f"{html.escape(text)}</td></tr>"
    )


def document(
    *, locale: str, right_to_left: bool, title: str, preheader: str, body_html: str
) -> str:
    """`body_html` (rows of a table: `<tr>…</tr>`, already safe HTML) in the e-mail's frame:
    language and direction, metas, the hidden preheader, a page and a card at most 600 px
    wide. Every other value is escaped here."""
    direction = "rtl" if right_to_left else "ltr"
    align = "right" if right_to_left else "left"
    # `locale` is a shipped catalogue's name (`pt_BR`): `lang` wants the BCP 47 tag.
    language = html.escape(locale.replace("_", "-"), quote=True)
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{language}" dir="{direction}">\n'
        "<head>\n"
        '<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="color-scheme" content="light dark">\n'
        '<meta name="supported-color-schemes" content="light dark">\n'
        '<meta name="x-apple-disable-message-reformatting">\n'
        f"<title>{html.escape(title)}</title>\n"
        f"<style>{_NARROW}{_DARK_SCHEME}</style>\n"
        "</head>\n"
        f'<body class="vs-page" style="margin:0;padding:0;background-color:{PAGE}">\n'
        # The preheader: shown in the inbox's preview line, never in the message.
        '<div style="display:none;max-height:0;max-width:0;overflow:hidden;opacity:0;'
        f'font-size:1px;line-height:1px;color:{PAGE};mso-hide:all">'
        f"{html.escape(preheader)}</div>\n"
        '<table role="presentation" class="vs-page" width="100%" cellpadding="0" '
        f'cellspacing="0" border="0" style="background-color:{PAGE}">\n'
        '<tr><td class="vs-outer" align="center" style="padding:24px 12px">\n'
        '<table role="presentation" class="vs-card" width="100%" cellpadding="0" '
        f'cellspacing="0" border="0" align="center" style="max-width:600px;'
        f"background-color:{CARD};border:1px solid {LINE};border-radius:8px;"
        f'text-align:{align}">\n'
        f"{body_html}\n"
        "</table>\n"
        "</td></tr>\n"
        "</table>\n"
        "</body>\n"
        "</html>\n"
    )
