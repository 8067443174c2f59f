"""Server-rendered pages for people (docs/adr/0018): Jinja2 templates shipped in a service's
package, strict security headers, and the console's session cookie.

A page never reaches the API through HTTP: its route calls the same handlers the API's routes
call. The session cookie carries the department's own client token, so the one credential check
(`auth.TokenVerifier`, revocation included) decides for pages and API alike.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape

from .auth import Principal, TokenVerifier

SESSION_COOKIE = "onecard_session"
# No script or style from elsewhere; the pages' own script only where a page ships one.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
# Labels of the contract's codes, Chinese first.
CATEGORY_LABELS = {"identity": "身份识别", "disbursement": "资金发放", "payment": "缴费支付"}
FORM_LABELS = {"physical": "实体卡", "electronic": "电子卡"}
STATUS_LABELS = {"met": "已达标", "behind": "未达标", "no_plan": "无计划", "not_applicable": "不适用"}


SHARED_TEMPLATES = Path(__file__).parent / "templates"  # page.html: the layout and stylesheet


class Pages:
    """The templates under `directory` (and the shared `page.html` they extend), rendered into
    HTML answers with the security headers."""

    def __init__(self, directory: Path) -> None:
        self.env = Environment(
            loader=ChoiceLoader([FileSystemLoader(directory), FileSystemLoader(SHARED_TEMPLATES)]),
            autoescape=select_autoescape(["html"]),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.globals.update(
            category_labels=CATEGORY_LABELS, form_labels=FORM_LABELS, status_labels=STATUS_LABELS
        )

    def render(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        html = self.env.get_template(template).render(**context)
        return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def session_principal(request: Request) -> Principal | None:
    """The caller of a page, from the session cookie: None without one; a Problem (401) for a
    token that is invalid or revoked, exactly as the API would answer it."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    verifier: TokenVerifier = request.app.state.token_verifier
    return verifier.verify(token)


def start_session(request: Request, location: str, token: str, path: str) -> Response:
    """A redirect to `location` that keeps `token` for `path`: HttpOnly (no script reads it),
    SameSite=Strict (no other site's page sends it, so no cross-site request forgery), Secure
    when the request came over HTTPS (`onecard up` serves plain HTTP on loopback)."""
    answer = RedirectResponse(location, status_code=303, headers=SECURITY_HEADERS)
    secure = request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"
    answer.set_cookie(SESSION_COOKIE, token, path=path, httponly=True, samesite="strict", secure=secure)
    return answer


def end_session(location: str, path: str) -> Response:
    answer = RedirectResponse(location, status_code=303, headers=SECURITY_HEADERS)
    answer.delete_cookie(SESSION_COOKIE, path=path, httponly=True, samesite="strict")
    return answer
