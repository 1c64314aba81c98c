"""A relying party's sign-in page in Debian's Chromium, with the DevTools `WebAuthn` domain's
virtual authenticator standing in for the user's device (no browser download, no real key).

The page is what an application would serve: it receives the `options` the service returned
(through the test, as through the application's own backend), calls
`navigator.credentials.create()` / `.get()`, shows the outcome and hands back the credential's
JSON (`PublicKeyCredential.toJSON()`), which the test posts through the SDK. Playwright
answers the page's URL itself (`page.route`), so any origin can be tried without a server or
a DNS name: `http://localhost:<port>` is a secure context, as WebAuthn requires.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Acme — sign in with a passkey</title>
<style>
 body { font: 16px/1.5 system-ui, sans-serif; margin: 0; background: #f4f5f7; color: #1d2330; }
 main { max-width: 640px; margin: 48px auto; background: #fff; border-radius: 12px;
        padding: 32px 40px; box-shadow: 0 2px 12px rgba(0,0,0,.08); }
 h1 { font-size: 24px; margin: 0 0 4px; } .origin { color: #5b6475; margin: 0 0 24px; }
 ol { padding: 0; list-style: none; } li { padding: 10px 14px; margin: 8px 0;
      border-radius: 8px; background: #f0f2f5; } li.ok { background: #e3f6e8; }
 li.error { background: #fde7e7; } code { font-size: 13px; word-break: break-all; }
</style></head>
<body><main><h1>Acme — passkeys</h1><p class="origin">__ORIGIN__</p><ol id="log"></ol></main>
<script>
const bytes = (s) => Uint8Array.from(
  atob(s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4)),
  (c) => c.charCodeAt(0));
function show(text, kind) {
  const item = document.createElement("li");
  item.className = kind || "";
  item.innerHTML = text;
  document.getElementById("log").appendChild(item);
}
function descriptors(list) { return (list || []).map((c) => ({ ...c, id: bytes(c.id) })); }
// options: the `options` object of the service's answer ({publicKey: ...}), as JSON.
async function register(options, label) {
  const publicKey = { ...options.publicKey, challenge: bytes(options.publicKey.challenge),
    user: { ...options.publicKey.user, id: bytes(options.publicKey.user.id) },
    excludeCredentials: descriptors(options.publicKey.excludeCredentials) };
  try {
    const credential = await navigator.credentials.create({ publicKey });
    show(label || ("Passkey created for <b>" + publicKey.user.name + "</b>"), "ok");
    return { credential: credential.toJSON() };
  } catch (error) {
    show("Passkey not created: " + error.name, "error");
    return { error: error.name, message: error.message };
  }
}
async function signIn(options, label) {
  const publicKey = { ...options.publicKey, challenge: bytes(options.publicKey.challenge),
    allowCredentials: descriptors(options.publicKey.allowCredentials) };
  try {
    const credential = await navigator.credentials.get({ publicKey });
    show(label || "Signed in with a passkey", "ok");
    return { credential: credential.toJSON() };
  } catch (error) {
    show("Sign-in failed: " + error.name, "error");
    return { error: error.name, message: error.message };
  }
}
</script></body></html>"""


@dataclass
class PasskeyPage:
    """One page (an origin) with one virtual authenticator attached."""

    page: Any
    cdp: Any
    authenticator_id: str
    origin: str

    def register(self, options: dict[str, Any], label: str | None = None) -> dict[str, Any]:
        """`navigator.credentials.create()` with the service's `options`: {"credential": …}
        or {"error": DOMException name} when the browser refused."""
        result: dict[str, Any] = self.page.evaluate(
            "([options, label]) => register(options, label)", [options, label]
        )
        return result

    def sign_in(self, options: dict[str, Any], label: str | None = None) -> dict[str, Any]:
        result: dict[str, Any] = self.page.evaluate(
            "([options, label]) => signIn(options, label)", [options, label]
        )
        return result

    def note(self, text: str, kind: str = "") -> None:
        """A line on the page (what the application showed after its backend answered)."""
        self.page.evaluate("([text, kind]) => show(text, kind)", [html.escape(text), kind])

    def credentials(self) -> list[dict[str, Any]]:
        found = self.cdp.send("WebAuthn.getCredentials", {"authenticatorId": self.authenticator_id})
        credentials: list[dict[str, Any]] = found["credentials"]
        return credentials

    def replace_credential(self, credential: dict[str, Any], **changes: Any) -> None:
        """Put `credential` back with `changes` (e.g. a lower `signCount`: a clone)."""
        self.cdp.send(
            "WebAuthn.removeCredential",
            {"authenticatorId": self.authenticator_id, "credentialId": credential["credentialId"]},
        )
        self.cdp.send(
            "WebAuthn.addCredential",
            {"authenticatorId": self.authenticator_id, "credential": {**credential, **changes}},
        )

    def set_user_verified(self, verified: bool) -> None:
        self.cdp.send(
            "WebAuthn.setUserVerified",
            {"authenticatorId": self.authenticator_id, "isUserVerified": verified},
        )


def open_passkey_page(
    context: Any,
    origin: str,
    *,
    user_verification: bool = True,
    resident_key: bool = True,
) -> PasskeyPage:
    """A new tab at `origin` (served by Playwright), with a CTAP2 platform authenticator
    that can keep discoverable credentials and verifies its user (`user_verification`
    False: one that cannot, like a security key without a PIN)."""
    page = context.new_page()
    body = PAGE.replace("__ORIGIN__", html.escape(origin))
    page.route(
        f"{origin}/**",
        lambda route: route.fulfill(status=200, content_type="text/html", body=body),
    )
    page.goto(f"{origin}/sign-in")
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    added = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": resident_key,
                "hasUserVerification": user_verification,
                "isUserVerified": user_verification,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return PasskeyPage(page, cdp, added["authenticatorId"], origin)
