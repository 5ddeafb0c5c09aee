"""Coordinators sign in with LINE Login v2.1 (OpenID Connect) through Authlib.

authorize (with state, nonce and PKCE) → callback → token request → ID token checked by Authlib
(HS256 keyed by the channel secret, as LINE signs web-login ID tokens; issuer, audience, expiry,
nonce). The `sub` is the LINE user id: the coordinator who linked that LINE account by invite
code signs in; anyone else is told they are not registered. No discovery document: LINE's names
ES256 keys meant for LIFF and the SDKs, not web login (see tests/test_sim_login.py)."""

from __future__ import annotations

import logging
from typing import Any

from authlib.integrations.base_client import OAuthError
from authlib.integrations.flask_client import OAuth
from flask import Flask, current_app, g, redirect, request, session, url_for
from joserfc.jwk import OctKey

from bot.config import Settings
from bot.db import transaction
from console.auth import begin_session, login_page, safe_next
from console.web import console_blueprint, runtime
from ticketing.authority import person_with_line

log = logging.getLogger(__name__)
ISSUER = "https://access.line.me"  # the same wherever LINE Login is served from

bp = console_blueprint("console_line")


def client_config(settings: Settings) -> dict[str, Any]:
    access, api = settings.line_login_hosts
    secret = settings.line_login_channel_secret
    return {
        "client_id": settings.line_login_channel_id,
        "client_secret": secret,
        "authorize_url": f"{access}/oauth2/v2.1/authorize",
        "access_token_url": f"{api}/oauth2/v2.1/token",
        "api_base_url": f"{api}/",
        "client_kwargs": {
            "scope": "openid profile",
            "token_endpoint_auth_method": "client_secret_post",  # LINE: secret in the body
            "code_challenge_method": "S256",
            "timeout": 10,
        },
        "issuer": ISSUER,
        "id_token_signing_alg_values_supported": ["HS256"],
        "jwks": {"keys": [OctKey.import_key(secret, {"alg": "HS256"}).as_dict()]},
    }


def install_line_login(app: Flask, settings: Settings) -> None:
    """LINE Login when its channel is configured (an OAuth registry per app: each app may talk
    to another LINE); otherwise the sign-in page offers only passwords."""
    if settings.line_login_channel_id and settings.line_login_channel_secret:
        oauth = OAuth(app)
        oauth.register("line", **client_config(settings))
        app.extensions["line_login"] = oauth.create_client("line")


def line_client() -> Any:
    return current_app.extensions.get("line_login")


NOT_SET_UP = "ยังไม่ได้ตั้งค่าการเข้าสู่ระบบด้วย LINE"


@bp.get("/auth/line")
def start():
    client = line_client()
    if client is None:
        return login_page(error=NOT_SET_UP, status=404)
    if g.actor is not None:
        return redirect(safe_next(request.args.get("next")))
    session["after_sign_in"] = safe_next(request.args.get("next"))
    return client.authorize_redirect(url_for("console_line.callback", _external=True))


@bp.get("/auth/line/callback")
def callback():
    client = line_client()
    if client is None:
        return login_page(error=NOT_SET_UP, status=404)
    if request.args.get("error"):
        return login_page(error="ยกเลิกการเข้าสู่ระบบด้วย LINE แล้ว", status=401)
    try:
        token = client.authorize_access_token()  # network: no transaction is open here
    except (OAuthError, ValueError, KeyError) as exc:
        log.warning("LINE Login failed: %r", exc)
        return login_page(error="เข้าสู่ระบบด้วย LINE ไม่สำเร็จ กรุณาลองอีกครั้ง", status=401)
    line_user_id = token["userinfo"]["sub"]
    with transaction(runtime().sessions) as db:
        person = person_with_line(db, line_user_id)
    if person is None:
        return login_page(
            error="บัญชี LINE นี้ยังไม่ได้ลงทะเบียนเป็นผู้ประสานงาน (หรือถูกระงับ) "
            "กรุณาส่ง “ลงทะเบียนผู้ประสานงาน <รหัส>” ที่ได้รับจากส่วนกลางใน LINE @smartbmn ก่อน",
            status=403,
        )
    target = session.get("after_sign_in")
    begin_session(person, "line")
    return redirect(safe_next(target))
