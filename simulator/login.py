"""LINE Login v2.1 (OpenID Connect, web login) as the simulator serves it: the staff console's
sign-in, held to LINE's documented rules, with a page where the tester picks a simulated user.

LINE serves these on two hosts; the simulator serves them all on its own (SIM_PORT). A client is
configured with the two bases, and points both at the simulator locally:

  LINE host        path                          what
  access.line.me   GET  /oauth2/v2.1/authorize   sign-in page (here: pick a simulated user,
                                                 อนุญาต → code, ยกเลิก → ACCESS_DENIED)
  api.line.me      POST /oauth2/v2.1/token       grant_type=authorization_code → access_token,
                                                 id_token (HS256), refresh_token;
                                                 grant_type=refresh_token → a new access_token
  api.line.me      POST /oauth2/v2.1/verify      verify an ID token (id_token, client_id,
                                                 nonce?, user_id?) → its claims
  api.line.me      GET  /oauth2/v2.1/verify      ?access_token= → scope, client_id, expires_in
  api.line.me      POST /oauth2/v2.1/revoke      revoke an access token
  api.line.me      GET|POST /oauth2/v2.1/userinfo  sub, name, picture (`openid` scope)
  api.line.me      GET  /v2/profile              userId, displayName, pictureUrl (`profile`)
  (simulator)      GET|POST /_sim/login          the channels (id, secret, callback URLs) and
                                                 lifetimes; GET shows them without secrets

The ID token's `iss` is always https://access.line.me, as LINE's is, wherever it is served.

How strict (each rule is LINE's unless it says "the simulator"):
  authorize  unknown client_id or a redirect_uri not registered (compared without its query
             string; LINE: "you can add any query parameter") → a 400 error page, never a
             redirect. Everything else redirects back with error, error_description and state:
             a parameter given twice, missing response_type → INVALID_REQUEST; response_type
             other than code → UNSUPPORTED_RESPONSE_TYPE; missing state → INVALID_REQUEST
             "'state' is not specified."; scope without profile or openid, an unknown scope, or
             email (no simulated channel has email permission) → INVALID_SCOPE; prompt=none →
             LOGIN_REQUIRED (the simulator keeps no login session); code_challenge_method other
             than S256 → INVALID_REQUEST; response_mode other than query → INVALID_REQUEST (the
             simulator implements query only). nonce, max_age (→ auth_time in the ID token),
             code_challenge (PKCE) are honoured; ui_locales, bot_prompt and the like ignored.
  token      application/x-www-form-urlencoded; client_id and client_secret in the body
             (LINE documents no other client authentication: HTTP Basic alone is refused, so a
             client must use client_secret_post); a parameter given twice → invalid_request.
             Codes: 10 minutes, single use, bound to the channel and to the exact redirect_uri
             of the request (query included). A code presented again is refused and revokes the
             tokens it gave. Any presentation by its own channel uses it up, even one refused for
             another reason (the simulator's reading of "can only be used once").
             Errors (400): invalid_client (wrong id/secret), invalid_grant "invalid
             authorization code" (unknown, used or expired), invalid_grant "redirect_uri does not
             match", invalid_grant "invalid code_verifier", invalid_grant "invalid refresh
             token", unsupported_grant_type. LINE documents the last but one; the others are the
             wording LINE is seen to use or RFC 6749's codes.
  verify     LINE's error_descriptions, in LINE's order: "Invalid IdToken." (malformed, not
             HS256, bad signature), "Invalid IdToken Issuer.", "IdToken expired.", "Invalid
             IdToken Audience.", "Invalid IdToken Nonce.", "Invalid IdToken Subject Identifier.";
             an access token that is unknown, revoked or expired: "access token expired".
  profile    401 without a live access token; 403 when it lacks the scope the endpoint needs.
Every API answer (not the page) carries x-line-request-id and Cache-Control: no-store.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from itertools import islice
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, Response, jsonify, redirect, render_template, request, url_for

from simulator import ids
from simulator.login_state import ISSUER, AccessToken, LoginChannel, LoginState, Pending, pkce_s256
from simulator.signing import jwt_claims_unverified, jwt_decode, jwt_encode
from simulator.state import SimState, User

API_PREFIX = "/oauth2/v2.1/"
AUTHORIZE_PATH = "/oauth2/v2.1/authorize"
PROFILE_PATH = "/v2/profile"  # under /v2/ but LINE Login's, not the Messaging API's
FORM = "application/x-www-form-urlencoded"
MAX_BODY_BYTES = 2 * 1024 * 1024  # LINE Login API: 413 over 2 MB
SCOPES = ("openid", "profile", "email")
PROMPTS = ("consent", "login", "none")
USER_ID = re.compile(r"^U[0-9a-f]{32}$")
PKCE_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")  # base64url of a SHA-256 digest
PKCE_VERIFIER = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")
PAGE_USERS = 30  # the page lists the most recent simulated users; any other can be typed
NAME_MAX = 20  # LINE display names: 20 characters
DEFAULT_CALLBACK_PATH = "/console/auth/line/callback"
SCOPE_LABELS = {
    "profile": "ชื่อที่แสดงและรูปโปรไฟล์ (profile)",
    "openid": "รหัสผู้ใช้ LINE ของคุณ (openid)",
}


def channels_from_env(env: Mapping[str, str], web_base_url: str) -> list[LoginChannel]:
    """The LINE Login channel `python -m simulator` serves, from the environment:
    LINE_LOGIN_CHANNEL_ID and LINE_LOGIN_CHANNEL_SECRET (the same variables the console reads,
    as LINE_CHANNEL_SECRET is shared by the bot and the simulator) and SIM_LOGIN_REDIRECT_URIS
    (comma-separated callback URLs; by default the console's callback on the web app, at
    127.0.0.1 and at localhost). No channel without both an id and a secret."""
    channel_id = (env.get("LINE_LOGIN_CHANNEL_ID") or "").strip()
    secret = (env.get("LINE_LOGIN_CHANNEL_SECRET") or "").strip()
    if not channel_id or not secret:
        return []
    listed = env.get("SIM_LOGIN_REDIRECT_URIS") or ""
    uris = [u.strip() for u in listed.split(",") if u.strip()]
    if not uris:
        base = web_base_url.rstrip("/")
        uris = [base + DEFAULT_CALLBACK_PATH]
        if "//127.0.0.1:" in base:
            uris.append(base.replace("//127.0.0.1:", "//localhost:") + DEFAULT_CALLBACK_PATH)
    return [LoginChannel(channel_id, secret, uris)]


def oauth_error(status: int, error: str, description: str) -> Response:
    response = jsonify({"error": error, "error_description": description})
    response.status_code = status
    return response


def read_form() -> tuple[dict[str, str], Response | None]:
    """The request's form body as LINE Login's API takes it: form-encoded, at most 2 MB, each
    parameter once (RFC 6749 §3.2)."""
    if (request.content_length or 0) > MAX_BODY_BYTES:
        return {}, oauth_error(413, "invalid_request", "The request exceeds the max size of 2MB")
    if request.mimetype != FORM:
        return {}, oauth_error(
            400, "invalid_request", f"Content-Type must be {FORM}, not {request.mimetype or '-'}"
        )
    form = request.form
    repeated = [key for key in form if len(form.getlist(key)) > 1]
    if repeated:
        return {}, oauth_error(
            400, "invalid_request", f"'{repeated[0]}' is specified more than once."
        )
    return form.to_dict(), None


def create_login_blueprint(state: SimState) -> Blueprint:
    login: LoginState = state.login
    bp = Blueprint(
        "line_login",
        __name__,
        template_folder="templates",
        static_folder="static",
        static_url_path="/_sim/static",
    )

    @bp.after_request
    def api_headers(response: Response) -> Response:
        if request.path == AUTHORIZE_PATH or not (
            request.path.startswith(API_PREFIX) or request.path == PROFILE_PATH
        ):
            return response
        response.headers.setdefault("x-line-request-id", ids.request_id())
        response.headers["Cache-Control"] = "no-store"
        response.headers["Pragma"] = "no-cache"
        return response

    # -- access.line.me: the sign-in page --------------------------------------------------

    def error_page(title: str, detail: str) -> Response:
        body = render_template("login/error.html", title=title, detail=detail)
        return page(body, status=400)

    def page(body: str, status: int = 200, form_target: str | None = None) -> Response:
        response = Response(body, status=status, mimetype="text/html")
        # Strict: no inline script or style; the form may post here and be redirected to the
        # client's callback (Chromium applies form-action to the redirect too).
        form_action = "'self'" + (f" {form_target}" if form_target else "")
        response.headers["Content-Security-Policy"] = (
            "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; "
            f"form-action {form_action}; frame-ancestors 'none'; base-uri 'none'"
        )
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    def back(redirect_uri: str, **params: str | None) -> Response:
        """Redirect to the client's callback with `params` added to its own query string."""
        query = urlencode({k: v for k, v in params.items() if v is not None})
        return redirect(redirect_uri + ("&" if "?" in redirect_uri else "?") + query, 302)

    def refuse(redirect_uri: str, state_value: str | None, error: str, description: str):
        return back(redirect_uri, error=error, error_description=description, state=state_value)

    @bp.get(AUTHORIZE_PATH)
    def authorize():
        args = request.args
        repeated = [key for key in args if len(args.getlist(key)) > 1]
        channel = login.channel(args.get("client_id", ""))
        if channel is None or "client_id" in repeated:
            return error_page(
                "ไม่พบช่อง LINE Login นี้ (client_id)",
                "400 Bad Request: invalid client_id. Check the channel ID of your LINE Login "
                "channel.",
            )
        redirect_uri = args.get("redirect_uri", "")
        if not redirect_uri or "redirect_uri" in repeated or not channel.allows(redirect_uri):
            return error_page(
                "ที่อยู่ callback ไม่ได้ลงทะเบียนไว้ (redirect_uri)",
                "400 Bad Request: Invalid redirect_uri value. Check if it is registered in a "
                "LINE developers site.",
            )
        state_value = args.get("state") or None

        def fail(error: str, description: str) -> Response:
            return refuse(redirect_uri, state_value, error, description)

        if repeated:
            return fail("INVALID_REQUEST", f"'{repeated[0]}' is specified more than once.")
        response_type = args.get("response_type")
        if not response_type:
            return fail("INVALID_REQUEST", "'response_type' is not specified.")
        if response_type != "code":
            return fail("UNSUPPORTED_RESPONSE_TYPE", f"Unsupported response_type: {response_type}")
        if state_value is None:
            return fail("INVALID_REQUEST", "'state' is not specified.")
        scopes = (args.get("scope") or "").split()
        if not scopes:
            return fail("INVALID_SCOPE", "'scope' is not specified.")
        unknown = [s for s in scopes if s not in SCOPES]
        if unknown:
            return fail("INVALID_SCOPE", f"Unknown scope: {unknown[0]}")
        if "profile" not in scopes and "openid" not in scopes:
            return fail("INVALID_SCOPE", "profile or openid is required.")
        if "email" in scopes:
            return fail(
                "INVALID_SCOPE",
                "email requires openid and the channel's email permission (no simulated "
                "channel has it).",
            )
        prompt = args.get("prompt")
        if prompt is not None and prompt not in PROMPTS:
            return fail("INVALID_REQUEST", f"Unsupported prompt: {prompt}")
        if prompt == "none":
            # No auto login or SSO session in the simulator: the user must see the page.
            return fail("LOGIN_REQUIRED", "The user is not logged in.")
        max_age_text = args.get("max_age")
        if max_age_text is not None and not (max_age_text.isascii() and max_age_text.isdigit()):
            return fail("INVALID_REQUEST", "max_age must be a non-negative integer.")
        response_mode = args.get("response_mode", "query")
        if response_mode != "query":
            return fail(
                "INVALID_REQUEST",
                f"response_mode={response_mode} is not implemented by the simulator (query only)",
            )
        challenge = args.get("code_challenge")
        method = args.get("code_challenge_method")
        if challenge is not None or method is not None:
            if method != "S256":
                return fail("INVALID_REQUEST", "code_challenge_method must be S256.")
            if challenge is None or not PKCE_CHALLENGE.fullmatch(challenge):
                return fail("INVALID_REQUEST", "Invalid code_challenge.")
        pending = Pending(
            request_id=secrets.token_urlsafe(24),
            channel_id=channel.channel_id,
            redirect_uri=redirect_uri,
            state=state_value,
            scopes=scopes,
            nonce=args.get("nonce"),
            max_age=int(max_age_text) if max_age_text is not None else None,
            code_challenge=challenge,
            created_at=login.clock(),
        )
        login.remember(pending)
        return consent_page(pending)

    def consent_page(pending: Pending, error: str | None = None, form: Any = None) -> Response:
        with state.lock:
            users = list(islice(reversed(state.users.values()), PAGE_USERS))
            total = len(state.users)
        chosen = (form or {}).get("user") or (users[0].user_id if users else "other")
        target = urlsplit(pending.redirect_uri)
        body = render_template(
            "login/authorize.html",
            pending=pending,
            users=users,
            more=max(0, total - len(users)),
            chosen=chosen,
            typed_id=(form or {}).get("new_user_id", ""),
            typed_name=(form or {}).get("new_name", ""),
            error=error,
            scopes=[SCOPE_LABELS[s] for s in pending.scopes if s in SCOPE_LABELS],
            client_host=target.netloc,
            css=url_for("line_login.static", filename="login.css"),
            js=url_for("line_login.static", filename="login.js"),
        )
        return page(body, status=400 if error else 200, form_target=origin(pending.redirect_uri))

    @bp.post(AUTHORIZE_PATH)
    def decide():
        """The page's form: อนุญาต (allow) as the chosen user, or ยกเลิก (cancel)."""
        form = request.form
        pending = login.waiting(form.get("request", ""))
        if pending is None:
            return error_page(
                "คำขอเข้าสู่ระบบนี้หมดอายุหรือใช้ไปแล้ว",
                "This sign-in request has expired or was already answered. Start again from "
                "the app.",
            )
        action = form.get("action")
        if action == "cancel":
            if login.take_pending(pending.request_id) is None:
                return error_page("คำขอเข้าสู่ระบบนี้ใช้ไปแล้ว", "Already answered.")
            return refuse(
                pending.redirect_uri,
                pending.state,
                "ACCESS_DENIED",
                "The resource owner denied the request.",
            )
        if action != "allow":
            return consent_page(pending, "กด อนุญาต หรือ ยกเลิก", form)
        user_id, problem = chosen_user(form)
        if problem is not None:
            return consent_page(pending, problem, form)
        assert user_id is not None
        if login.take_pending(pending.request_id) is None:  # answered meanwhile (twice sent)
            return error_page("คำขอเข้าสู่ระบบนี้ใช้ไปแล้ว", "Already answered.")
        code = login.issue_code(pending, user_id)
        return back(pending.redirect_uri, code=code.code, state=pending.state)

    def chosen_user(form: Any) -> tuple[str | None, str | None]:
        """(user id, None), or (None, what to tell the tester). A new user is a LINE account
        that signed in, not a friend of the bot: it follows nobody."""
        choice = form.get("user", "")
        if choice and choice != "other":
            if choice not in state.users:
                return None, "ไม่พบผู้ใช้ที่เลือก"
            return choice, None
        if choice != "other":
            return None, "เลือกผู้ใช้ก่อน"
        typed = form.get("new_user_id", "").strip()
        name = form.get("new_name", "").strip()[:NAME_MAX]
        if typed and not USER_ID.fullmatch(typed):
            return None, "user id ต้องเป็น U ตามด้วยเลขฐานสิบหก 32 ตัว (เว้นว่างเพื่อสร้างใหม่)"
        user_id = typed or ids.user_id()
        with state.lock:
            user = state.users.get(user_id)
            if user is None:
                state.users[user_id] = User(user_id, name or f"ผู้ใช้ {user_id[-4:]}", False)
            elif name:
                user.display_name = name
        return user_id, None

    # -- api.line.me ------------------------------------------------------------------------

    def client(form: dict[str, str]) -> tuple[LoginChannel | None, Response | None]:
        channel_id, secret = form.get("client_id"), form.get("client_secret")
        if not channel_id or not secret:
            description = "client_id and client_secret are required in the request body"
            if request.authorization is not None:
                description += (
                    " (LINE takes the client's credentials in the body, client_secret_post;"
                    " not HTTP Basic)"
                )
            return None, oauth_error(400, "invalid_request", description)
        channel = login.authenticate(channel_id, secret)
        if channel is None:
            return None, oauth_error(400, "invalid_client", "invalid client_id or client_secret")
        return channel, None

    def id_token(channel: LoginChannel, access: AccessToken) -> str:
        grant, now = access.grant, int(login.clock())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "sub": grant.user_id,
            "aud": channel.channel_id,
            "exp": now + int(login.id_token_ttl_s),
            "iat": now,
        }
        if grant.with_auth_time:
            claims["auth_time"] = grant.auth_time
        if grant.nonce is not None:
            claims["nonce"] = grant.nonce
        claims["amr"] = ["pwd"]
        if "profile" in grant.scopes:
            user = state.users.get(grant.user_id)
            if user is not None:
                claims["name"] = user.display_name
                if user.picture_url:
                    claims["picture"] = user.picture_url
        return jwt_encode(channel.channel_secret, claims)

    def scope_of(access: AccessToken) -> str:
        return " ".join(s for s in access.grant.scopes if s != "email")  # LINE leaves email out

    def expires_in(access: AccessToken) -> int:
        return max(0, int(access.expires_at - login.clock()))

    @bp.post(API_PREFIX + "token")
    def token():
        form, refused = read_form()
        if refused is not None:
            return refused
        grant_type = form.get("grant_type")
        if grant_type not in ("authorization_code", "refresh_token"):
            if not grant_type:
                return oauth_error(400, "invalid_request", "grant_type is required")
            return oauth_error(400, "unsupported_grant_type", f"unsupported: {grant_type}")
        channel, refused = client(form)
        if refused is not None:
            return refused
        assert channel is not None
        if grant_type == "refresh_token":
            return refresh(channel, form)
        if form.get("id_token_key_type"):
            return oauth_error(
                400,
                "invalid_request",
                "id_token_key_type (ES256 ID tokens) is not implemented by the simulator",
            )
        code_value, redirect_uri = form.get("code"), form.get("redirect_uri")
        if not code_value or not redirect_uri:
            return oauth_error(400, "invalid_request", "code and redirect_uri are required")
        code = login.redeem_code(code_value, channel.channel_id)
        if code is None:
            return oauth_error(400, "invalid_grant", "invalid authorization code")
        if redirect_uri != code.redirect_uri:
            return oauth_error(400, "invalid_grant", "redirect_uri does not match")
        if code.code_challenge is not None:
            verifier = form.get("code_verifier", "")
            if not PKCE_VERIFIER.fullmatch(verifier) or pkce_s256(verifier) != code.code_challenge:
                return oauth_error(400, "invalid_grant", "invalid code_verifier")
        access, refresh_token = login.issue_for_code(code)
        body: dict[str, Any] = {
            "access_token": access.token,
            "expires_in": int(login.access_token_ttl_s),
        }
        if "openid" in code.grant.scopes:
            body["id_token"] = id_token(channel, access)
        body.update(
            {
                "refresh_token": refresh_token.token,
                "scope": scope_of(access),
                "token_type": "Bearer",
            }
        )
        return jsonify(body)

    def refresh(channel: LoginChannel, form: dict[str, str]) -> Response:
        given = form.get("refresh_token")
        if not given:
            return oauth_error(400, "invalid_request", "refresh_token is required")
        refresh_token = login.live_refresh_token(given, channel.channel_id)
        if refresh_token is None:
            return oauth_error(400, "invalid_grant", "invalid refresh token")
        access = login.issue_for_refresh(refresh_token)
        return jsonify(
            {
                "token_type": "Bearer",
                "scope": scope_of(access),
                "access_token": access.token,
                "expires_in": expires_in(access),
                "refresh_token": given,
            }
        )

    @bp.post(API_PREFIX + "verify")
    def verify_id_token():
        form, refused = read_form()
        if refused is not None:
            return refused
        token_text, client_id = form.get("id_token"), form.get("client_id")
        if not token_text or not client_id:
            return oauth_error(400, "invalid_request", "id_token and client_id are required")

        def invalid(what: str) -> Response:
            return oauth_error(400, "invalid_request", what)

        try:
            issuer_channel = login.channel(str(jwt_claims_unverified(token_text).get("aud", "")))
            if issuer_channel is None:  # no channel the simulator knows could have signed it
                raise ValueError("unknown audience")
            claims = jwt_decode(issuer_channel.channel_secret, token_text)
        except ValueError:
            return invalid("Invalid IdToken.")
        if claims.get("iss") != ISSUER:
            return invalid("Invalid IdToken Issuer.")
        exp = claims.get("exp")
        if not isinstance(exp, int) or login.clock() >= exp:
            return invalid("IdToken expired.")
        if claims.get("aud") != client_id:
            return invalid("Invalid IdToken Audience.")
        if "nonce" in form and claims.get("nonce") != form["nonce"]:
            return invalid("Invalid IdToken Nonce.")
        if "user_id" in form and claims.get("sub") != form["user_id"]:
            return invalid("Invalid IdToken Subject Identifier.")
        return jsonify(claims)

    @bp.get(API_PREFIX + "verify")
    def verify_access_token():
        given = request.args.get("access_token")
        if not given:
            return oauth_error(400, "invalid_request", "access_token is required")
        access = login.live_access_token(given)
        if access is None:
            return oauth_error(400, "invalid_request", "access token expired")
        return jsonify(
            {
                "scope": scope_of(access),
                "client_id": access.grant.channel_id,
                "expires_in": expires_in(access),
            }
        )

    @bp.post(API_PREFIX + "revoke")
    def revoke():
        form, refused = read_form()
        if refused is not None:
            return refused
        if not form.get("access_token"):
            return oauth_error(400, "invalid_request", "access_token is required")
        channel, refused = client(form)
        if refused is not None:
            return refused
        assert channel is not None
        login.revoke_access_token(form["access_token"], channel.channel_id)
        return Response(status=200)

    def bearer(scope: str) -> AccessToken | Response:
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        access = login.live_access_token(value.strip()) if scheme.lower() == "bearer" else None
        if access is None:
            response = jsonify(
                {
                    "message": "Authentication failed. Confirm that the access token in the "
                    "authorization header is valid."
                }
            )
            response.status_code = 401
            response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
            return response
        if scope not in access.grant.scopes:
            response = jsonify({"message": f"The access token lacks the {scope} scope"})
            response.status_code = 403
            return response
        return access

    @bp.get(PROFILE_PATH)
    def profile():
        access = bearer("profile")
        if isinstance(access, Response):
            return access
        user = state.users.get(access.grant.user_id)
        if user is None:
            return jsonify({"message": "Not found"}), 404
        body = {"userId": user.user_id, "displayName": user.display_name}
        if user.picture_url:
            body["pictureUrl"] = user.picture_url
        return jsonify(body)

    @bp.route(API_PREFIX + "userinfo", methods=["GET", "POST"])
    def userinfo():
        access = bearer("openid")
        if isinstance(access, Response):
            return access
        body: dict[str, str] = {"sub": access.grant.user_id}
        user = state.users.get(access.grant.user_id)
        if user is not None and "profile" in access.grant.scopes:
            body["name"] = user.display_name
            if user.picture_url:
                body["picture"] = user.picture_url
        return jsonify(body)

    # -- control ----------------------------------------------------------------------------

    def described() -> dict[str, Any]:
        with login.lock:
            channels = [
                {"channel_id": c.channel_id, "redirect_uris": list(c.redirect_uris)}
                for c in login.channels.values()
            ]
        return {
            "channels": channels,
            "code_ttl_s": login.code_ttl_s,
            "access_token_ttl_s": login.access_token_ttl_s,
            "refresh_token_ttl_s": login.refresh_token_ttl_s,
            "id_token_ttl_s": login.id_token_ttl_s,
        }

    @bp.get("/_sim/login")
    def sim_login():
        return jsonify(described())

    @bp.post("/_sim/login")
    def sim_login_config():
        """{"channels": [{"channel_id", "channel_secret", "redirect_uris": [...]}], and any of
        "code_ttl_s", "access_token_ttl_s", "refresh_token_ttl_s", "id_token_ttl_s"}: a channel
        with a known id is replaced."""
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            return jsonify({"error": "need a JSON object"}), 400
        channels = []
        for spec in data.get("channels", []):
            uris = spec.get("redirect_uris") if isinstance(spec, dict) else None
            if (
                not isinstance(spec, dict)
                or not str(spec.get("channel_id", "")).strip()
                or not str(spec.get("channel_secret", "")).strip()
                or not isinstance(uris, list)
                or not all(
                    isinstance(u, str) and u.startswith(("http://", "https://")) for u in uris
                )
            ):
                return jsonify(
                    {
                        "error": 'need "channels": [{"channel_id", "channel_secret", '
                        '"redirect_uris": ["http(s)://…"]}]'
                    }
                ), 400
            channels.append(
                LoginChannel(str(spec["channel_id"]), str(spec["channel_secret"]), list(uris))
            )
        lifetimes = {}
        for key in ("code_ttl_s", "access_token_ttl_s", "refresh_token_ttl_s", "id_token_ttl_s"):
            if key in data:
                value = data[key]
                if not isinstance(value, int | float) or value <= 0:
                    return jsonify({"error": f"{key} must be a positive number"}), 400
                lifetimes[key] = float(value)
        for channel in channels:
            login.add_channel(channel)
        for key, value in lifetimes.items():
            setattr(login, key, value)
        return jsonify(described())

    return bp


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
