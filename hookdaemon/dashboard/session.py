"""
The dashboard's sign-in, from plain values: the token a person signed in
with, kept in a cookie the page's scripts cannot read and other sites cannot
send; and the CSRF token its forms carry, which another site cannot know.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from http.cookies import CookieError, SimpleCookie

COOKIE = "hookdaemon_token"
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+={0,2}")
PATH = "/ui/"


def token_cookie(token: str, secure: bool) -> str:
    """
    The Set-Cookie value that keeps C{token}: HttpOnly (no script reads it),
    SameSite=Strict (no other site's page sends it), Secure over HTTPS, and
    only for the dashboard's paths. The token is base64url, as a cookie value
    cannot hold every character a token may.
    """
    value = base64.urlsafe_b64encode(token.encode("utf-8")).decode("ascii")
    return f"{COOKIE}={value}; Path={PATH}; HttpOnly; SameSite=Strict" + (
        "; Secure" if secure else ""
    )


def cleared_cookie(secure: bool) -> str:
    """The Set-Cookie value that signs out."""
    return f"{COOKIE}=; Path={PATH}; Max-Age=0; HttpOnly; SameSite=Strict" + (
        "; Secure" if secure else ""
    )


def cookie_token(header: str | None) -> str | None:
    """The token in a request's Cookie header; None if there is none, or it is not one of ours."""
    if not header:
        return None
    cookies: SimpleCookie = SimpleCookie()
    try:
        cookies.load(header)
    except CookieError:
        return None
    morsel = cookies.get(COOKIE)
    if morsel is None or not _BASE64URL.fullmatch(morsel.value):
        return None
    try:
        token = base64.urlsafe_b64decode(morsel.value.encode("ascii")).decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError):
        return None
    return token or None


def csrf_token(key: bytes, credential: str) -> str:
    """
    The token a form carries for C{credential} (the signed-in token, or "" for
    a loopback caller without one): an HMAC under the daemon's own key, so a
    page elsewhere can neither read nor make it.
    """
    return hmac.new(key, credential.encode("utf-8"), hashlib.sha256).hexdigest()


def csrf_passes(key: bytes, credential: str, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(csrf_token(key, credential), given)
