"""The console's protections: signed cookies, CSRF on every form and htmx request, sign-in
limits, and headers (a Content-Security-Policy that allows no inline script or style)."""

from __future__ import annotations

import hashlib
import hmac

from flask import Flask, Response, render_template, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFError, CSRFProtect

from bot.config import Settings
from ticketing.errors import OutOfArea, Refused

csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address, default_limits=[], strategy="moving-window")

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cache-Control": "no-store",
}


def secret_key(settings: Settings) -> str:
    """CONSOLE_SECRET_KEY, or one derived from the channel secret (every process agrees)."""
    if settings.console_secret_key:
        return settings.console_secret_key
    return hmac.new(
        b"smartbmn-console", settings.channel_secret.encode(), hashlib.sha256
    ).hexdigest()


def install_security(app: Flask, settings: Settings) -> None:
    app.config.update(
        SECRET_KEY=secret_key(settings),
        SESSION_COOKIE_NAME="smartbmn_console",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SECURE=settings.console_cookie_secure,
        # Lax, not Strict: the LINE Login callback is a navigation from another site and
        # must carry the cookie that holds its state and nonce.
        SESSION_COOKIE_SAMESITE="Lax",
        # Only the console's views are checked (the LINE webhook is signed instead):
        # console blueprints call csrf.protect() before each request.
        WTF_CSRF_CHECK_DEFAULT=False,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
        RATELIMIT_STORAGE_URI=settings.redis_url or "memory://",
        RATELIMIT_HEADERS_ENABLED=True,
    )
    csrf.init_app(app)
    limiter.init_app(app)

    @app.after_request
    def headers(response: Response) -> Response:
        if request.path.startswith("/console"):
            for name, value in HEADERS.items():
                response.headers.setdefault(name, value)
        return response

    @app.errorhandler(CSRFError)
    def csrf_failed(error: CSRFError) -> tuple[str, int]:
        return page_error(400, "แบบฟอร์มหมดอายุหรือไม่ถูกต้อง กรุณาโหลดหน้าใหม่แล้วลองอีกครั้ง")

    @app.errorhandler(OutOfArea)
    def out_of_area(error: OutOfArea) -> tuple[str, int]:
        return page_error(404, "ไม่พบหน้านี้")

    @app.errorhandler(Refused)
    def refused(error: Refused) -> tuple[str, int]:
        return page_error(403, str(error))

    @app.errorhandler(429)
    def too_many(error: Exception) -> tuple[str, int]:
        return page_error(429, "ลองหลายครั้งเกินไป กรุณารอสักครู่แล้วลองใหม่")


def page_error(status: int, message: str) -> tuple[str, int]:
    if not request.path.startswith("/console"):
        return message, status
    return render_template("console/error.html", status=status, message=message), status
