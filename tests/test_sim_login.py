"""LINE Login v2.1 in the simulator, signed into by a real OpenID Connect client (Authlib).

`line_oauth_config` below is the configuration the staff console should register: the first test
runs Authlib's Flask client with it, end to end, over real sockets. The rest hold each endpoint
to LINE's rules and check every refusal.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.flask_client import OAuth
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.core import CodeIDToken
from flask import Flask, url_for
from joserfc import jwt
from joserfc.errors import BadSignatureError
from joserfc.jwk import OctKey

from simulator.login import channels_from_env
from simulator.login_state import LoginChannel
from simulator.signing import jwt_encode
from tests.conftest import TOKEN, Served

CHANNEL_ID = "1656000001"
CHANNEL_SECRET = "8f2a6c0e4b1d3f5a7c9e0b2d4f6a8c1e"  # LINE's channel secrets: 32 hex digits
OTHER_ID = "1656000002"
OTHER_SECRET = "0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e"
REDIRECT = "http://127.0.0.1:9/console/auth/line/callback"  # never fetched: Location is read
USER = "U" + "5" * 32
ISSUER = "https://access.line.me"


def line_oauth_config(
    access_base: str, api_base: str, channel_id: str, channel_secret: str
) -> dict[str, Any]:
    """What to pass to Authlib's `OAuth.register("line", **…)` for LINE Login web login.

    access_base: https://access.line.me, api_base: https://api.line.me (both the simulator's
    URL locally). No server_metadata_url: LINE's discovery document names ES256 and a JWKS
    (keys for LIFF/SDK tokens), while a web login's ID token is HS256, keyed by the channel
    secret, so Authlib is given that key and algorithm itself.
    """
    return {
        "client_id": channel_id,
        "client_secret": channel_secret,
        "authorize_url": f"{access_base}/oauth2/v2.1/authorize",
        "access_token_url": f"{api_base}/oauth2/v2.1/token",
        "api_base_url": f"{api_base}/",
        "client_kwargs": {
            "scope": "openid profile",
            # LINE takes client_id and client_secret in the body; Authlib's default is Basic.
            "token_endpoint_auth_method": "client_secret_post",
            "code_challenge_method": "S256",  # PKCE: LINE supports it for web login
            "timeout": 10,
        },
        "issuer": ISSUER,
        "id_token_signing_alg_values_supported": ["HS256"],
        "jwks": {"keys": [OctKey.import_key(channel_secret, {"alg": "HS256"}).as_dict()]},
    }


class Clock:
    """The simulator's LINE Login clock, moved by the test (`state.login.clock`)."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def line(sim):
    """The simulator with one LINE Login channel whose callback is REDIRECT, and USER."""
    state, served = sim
    state.login.add_channel(LoginChannel(CHANNEL_ID, CHANNEL_SECRET, [REDIRECT]))
    state.ensure_user(USER, "ผู้ประสานงาน สงขลา")
    return state, served


def authorize_url(base: str, **params: str) -> str:
    query = {
        "response_type": "code",
        "client_id": CHANNEL_ID,
        "redirect_uri": REDIRECT,
        "state": "s7a7e",
        "scope": "openid profile",
        "nonce": "n0nce",
        **params,
    }
    return f"{base}/oauth2/v2.1/authorize?{urlencode(query)}"


def page_request_id(html: str) -> str:
    return re.search(r'name="request" value="([^"]+)"', html).group(1)


def sign_in(
    browser: requests.Session, url: str, user: str = USER, action: str = "allow", **form: str
) -> str:
    """What a tester does on the simulated LINE page: open it, pick, press. The redirect."""
    page = browser.get(url, allow_redirects=False, timeout=10)
    assert page.status_code == 200, page.text
    answer = browser.post(
        page.url.split("?")[0],
        data={"request": page_request_id(page.text), "user": user, "action": action, **form},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 302, answer.text
    return answer.headers["Location"]


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def code_for(served, user: str = USER, **params: str) -> str:
    location = sign_in(requests.Session(), authorize_url(served.url, **params), user)
    return query_of(location)["code"]


def token_request(served, **form: str) -> requests.Response:
    body = {
        "grant_type": "authorization_code",
        "redirect_uri": REDIRECT,
        "client_id": CHANNEL_ID,
        "client_secret": CHANNEL_SECRET,
        **form,
    }
    return requests.post(f"{served.url}/oauth2/v2.1/token", data=body, timeout=10)


def verify(served, **form: str) -> requests.Response:
    return requests.post(f"{served.url}/oauth2/v2.1/verify", data=form, timeout=10)


def session(served, **kwargs: Any) -> OAuth2Session:
    options = {"token_endpoint_auth_method": "client_secret_post", **kwargs}
    return OAuth2Session(
        CHANNEL_ID, CHANNEL_SECRET, scope="openid profile", redirect_uri=REDIRECT, **options
    )


# -- the console's client, end to end --------------------------------------------------------


def console_like_app(sim_url: str) -> Flask:
    """A web app signing staff in the way the console will: Authlib's Flask client."""
    app = Flask("console_like")
    app.secret_key = "test-only"
    oauth = OAuth(app)
    oauth.register("line", **line_oauth_config(sim_url, sim_url, CHANNEL_ID, CHANNEL_SECRET))

    @app.get("/console/login")
    def login():
        return oauth.line.authorize_redirect(url_for("callback", _external=True))

    @app.get("/console/auth/line/callback")
    def callback():
        try:
            token = oauth.line.authorize_access_token()
        except OAuthError as exc:
            return {"error": exc.error, "description": exc.description}, 400
        profile = oauth.line.get("v2/profile", token=token).json()
        return {"userinfo": dict(token["userinfo"]), "profile": profile}

    return app


@pytest.fixture
def console(line):
    state, served = line
    app = Served(console_like_app(served.url))
    state.login.add_channel(
        LoginChannel(CHANNEL_ID, CHANNEL_SECRET, [app.url + "/console/auth/line/callback"])
    )
    yield app
    app.close()


def test_authlibs_flask_client_signs_a_simulated_user_in(line, console):
    browser = requests.Session()
    start = browser.get(console.url + "/console/login", allow_redirects=False, timeout=10)
    assert start.status_code == 302
    asked = query_of(start.headers["Location"])
    assert start.headers["Location"].startswith(line[1].url + "/oauth2/v2.1/authorize?")
    assert asked["scope"] == "openid profile" and asked["code_challenge_method"] == "S256"
    assert asked["nonce"] and asked["state"]

    back = sign_in(browser, start.headers["Location"], USER)
    assert back.startswith(console.url + "/console/auth/line/callback?code=")
    signed_in = browser.get(back, timeout=10)

    assert signed_in.status_code == 200, signed_in.text
    userinfo = signed_in.json()["userinfo"]
    assert userinfo["sub"] == USER and userinfo["name"] == "ผู้ประสานงาน สงขลา"
    assert userinfo["iss"] == ISSUER and userinfo["aud"] == CHANNEL_ID
    assert userinfo["nonce"] == asked["nonce"]
    assert signed_in.json()["profile"] == {"userId": USER, "displayName": "ผู้ประสานงาน สงขลา"}


def test_authlibs_flask_client_reports_a_cancelled_sign_in(line, console):
    browser = requests.Session()
    start = browser.get(console.url + "/console/login", allow_redirects=False, timeout=10)
    back = sign_in(browser, start.headers["Location"], action="cancel")
    refused = browser.get(back, timeout=10)
    assert refused.status_code == 400
    assert refused.json() == {
        "error": "ACCESS_DENIED",
        "description": "The resource owner denied the request.",
    }


def test_a_browser_that_did_not_start_the_sign_in_is_refused_by_authlib(line, console):
    """The callback carries a state the console never gave this browser (login CSRF)."""
    attacker = requests.Session()
    start = attacker.get(console.url + "/console/login", allow_redirects=False, timeout=10)
    back = sign_in(attacker, start.headers["Location"])
    victim = requests.Session()
    refused = victim.get(back, timeout=10)
    assert refused.status_code == 400 and refused.json()["error"] == "mismatching_state"
    [code] = line[0].login.codes.values()
    assert not code.used  # nothing was asked of LINE for it


# -- the ID token, checked by an independent implementation (joserfc, Authlib) -------------------


def test_the_id_token_is_hs256_with_the_channel_secret_and_lines_claims(line):
    _, served = line
    client = session(served)
    url, request_state = client.create_authorization_url(
        served.url + "/oauth2/v2.1/authorize", nonce="n-123"
    )
    location = sign_in(requests.Session(), url)
    assert query_of(location)["state"] == request_state
    token = client.fetch_token(served.url + "/oauth2/v2.1/token", authorization_response=location)

    assert token["token_type"] == "Bearer" and token["scope"] == "openid profile"
    assert token["expires_in"] == 30 * 86400  # LINE: 30 days
    assert token["refresh_token"]
    decoded = jwt.decode(token["id_token"], OctKey.import_key(CHANNEL_SECRET), ["HS256"])
    assert decoded.header == {"typ": "JWT", "alg": "HS256"}
    claims = decoded.claims
    assert claims["iss"] == ISSUER and claims["sub"] == USER and claims["aud"] == CHANNEL_ID
    assert claims["nonce"] == "n-123" and claims["amr"] == ["pwd"]
    assert claims["name"] == "ผู้ประสานงาน สงขลา" and "picture" not in claims
    assert claims["exp"] > claims["iat"]
    # OpenID Connect's checks (iss, aud, exp, iat, nonce), as Authlib's client makes them.
    CodeIDToken(
        claims,
        decoded.header,
        {"iss": {"values": [ISSUER]}},
        {"nonce": "n-123", "client_id": CHANNEL_ID},
    ).validate()
    with pytest.raises(BadSignatureError):
        jwt.decode(token["id_token"], OctKey.import_key(OTHER_SECRET), ["HS256"])
    # LINE's own check gives the same claims back.
    checked = verify(served, id_token=token["id_token"], client_id=CHANNEL_ID, nonce="n-123")
    assert checked.status_code == 200 and checked.json() == claims


def test_authlib_refuses_an_id_token_with_another_nonce(line):
    _, served = line
    client = session(served)
    url, _ = client.create_authorization_url(served.url + "/oauth2/v2.1/authorize", nonce="mine")
    token = client.fetch_token(
        served.url + "/oauth2/v2.1/token", authorization_response=sign_in(requests.Session(), url)
    )
    decoded = jwt.decode(token["id_token"], OctKey.import_key(CHANNEL_SECRET), ["HS256"])
    claims = CodeIDToken(
        decoded.claims, decoded.header, None, {"nonce": "someone-elses", "client_id": CHANNEL_ID}
    )
    with pytest.raises(Exception, match="nonce"):
        claims.validate()


def test_authlibs_default_http_basic_client_auth_is_refused(line):
    """Authlib's default token_endpoint_auth_method is client_secret_basic; LINE documents only
    client_id and client_secret in the body, so the console must say client_secret_post."""
    _, served = line
    basic = OAuth2Session(CHANNEL_ID, CHANNEL_SECRET, scope="openid", redirect_uri=REDIRECT)
    assert basic.token_endpoint_auth_method == "client_secret_basic"
    url, _ = basic.create_authorization_url(served.url + "/oauth2/v2.1/authorize")
    location = sign_in(requests.Session(), url)
    with pytest.raises(OAuthError) as refused:
        basic.fetch_token(served.url + "/oauth2/v2.1/token", authorization_response=location)
    assert refused.value.error == "invalid_request"
    assert "client_secret_post" in refused.value.description
    # The client never authenticated, so the code is still good for a right request.
    good = token_request(served, code=query_of(location)["code"])
    assert good.status_code == 200, good.text


# -- refusals at the token endpoint --------------------------------------------------------------


def test_a_wrong_client_secret_is_invalid_client_and_leaves_the_code(line):
    _, served = line
    code = code_for(served)
    wrong = token_request(served, code=code, client_secret=OTHER_SECRET)
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "invalid_client"
    assert "access_token" not in wrong.json()
    assert token_request(served, code=code).status_code == 200


def test_a_code_works_once_and_a_second_use_revokes_what_it_gave(line):
    _, served = line
    code = code_for(served)
    first = token_request(served, code=code)
    assert first.status_code == 200
    access = first.json()["access_token"]
    check = requests.get(f"{served.url}/oauth2/v2.1/verify", params={"access_token": access})
    assert check.status_code == 200

    again = token_request(served, code=code)
    assert again.status_code == 400
    assert again.json() == {
        "error": "invalid_grant",
        "error_description": "invalid authorization code",
    }
    check = requests.get(f"{served.url}/oauth2/v2.1/verify", params={"access_token": access})
    assert check.status_code == 400 and check.json()["error_description"] == "access token expired"
    refreshed = requests.post(
        f"{served.url}/oauth2/v2.1/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": first.json()["refresh_token"],
            "client_id": CHANNEL_ID,
            "client_secret": CHANNEL_SECRET,
        },
        timeout=10,
    )
    assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"


def test_a_code_lives_ten_minutes(line):
    state, served = line
    clock = state.login.clock = Clock()
    in_time, late = code_for(served), code_for(served)
    clock.now += 10 * 60 - 1
    assert token_request(served, code=in_time).status_code == 200
    clock.now += 2
    expired = token_request(served, code=late)
    assert expired.status_code == 400
    assert expired.json()["error_description"] == "invalid authorization code"


def test_the_token_request_must_repeat_the_exact_redirect_uri(line):
    _, served = line
    code = code_for(served)
    other = token_request(served, code=code, redirect_uri=REDIRECT + "/elsewhere")
    assert other.status_code == 400
    assert other.json() == {
        "error": "invalid_grant",
        "error_description": "redirect_uri does not match",
    }
    # A code is good for one request, refused or not.
    assert token_request(served, code=code).status_code == 400

    # LINE lets the callback carry a query string; the token request must then repeat it.
    with_query = REDIRECT + "?next=%2Ftickets"
    code = code_for(served, redirect_uri=with_query)
    assert token_request(served, code=code, redirect_uri=REDIRECT).status_code == 400
    code = code_for(served, redirect_uri=with_query)
    assert token_request(served, code=code, redirect_uri=with_query).status_code == 200


def test_a_code_is_bound_to_the_channel_it_was_issued_for(line):
    state, served = line
    state.login.add_channel(LoginChannel(OTHER_ID, OTHER_SECRET, [REDIRECT]))
    code = code_for(served)
    stolen = token_request(served, code=code, client_id=OTHER_ID, client_secret=OTHER_SECRET)
    assert stolen.status_code == 400 and stolen.json()["error"] == "invalid_grant"
    assert token_request(served, code=code).status_code == 200  # untouched by the other channel


def test_pkce_the_verifier_must_match_the_challenge(line):
    _, served = line
    client = session(served, code_challenge_method="S256")
    verifier = "v" * 50
    url, _ = client.create_authorization_url(
        served.url + "/oauth2/v2.1/authorize", code_verifier=verifier
    )
    code = query_of(sign_in(requests.Session(), url))["code"]
    missing = token_request(served, code=code)
    assert (
        missing.status_code == 400
        and missing.json()["error_description"] == "invalid code_verifier"
    )
    code = query_of(sign_in(requests.Session(), url))["code"]
    assert token_request(served, code=code, code_verifier="w" * 50).status_code == 400
    code = query_of(sign_in(requests.Session(), url))["code"]
    assert token_request(served, code=code, code_verifier=verifier).status_code == 200


@pytest.mark.parametrize(
    ("body", "content_type", "error"),
    [
        ({"grant_type": "authorization_code", "code": "x"}, "json", "invalid_request"),
        ({"grant_type": "password"}, "form", "unsupported_grant_type"),
        ({}, "form", "invalid_request"),
        ({"grant_type": "authorization_code", "redirect_uri": REDIRECT}, "form", "invalid_request"),
        ({"grant_type": ["authorization_code", "authorization_code"]}, "form", "invalid_request"),
    ],
)
def test_the_token_endpoint_takes_form_bodies_only(line, body, content_type, error):
    _, served = line
    full = {"client_id": CHANNEL_ID, "client_secret": CHANNEL_SECRET, **body}
    url = f"{served.url}/oauth2/v2.1/token"
    if content_type == "json":
        response = requests.post(url, json=full, timeout=10)
    else:
        response = requests.post(url, data=full, timeout=10)
    assert response.status_code == 400
    assert response.json()["error"] == error
    assert response.headers["x-line-request-id"] and response.headers["Cache-Control"] == "no-store"


# -- verify ----------------------------------------------------------------------------------


def id_token_for(served, **params: str) -> str:
    return token_request(served, code=code_for(served, **params)).json()["id_token"]


def test_verify_refuses_with_lines_descriptions(line):
    _, served = line
    token = id_token_for(served)
    cases = [
        ({"client_id": OTHER_ID}, "Invalid IdToken Audience."),
        ({"client_id": CHANNEL_ID, "nonce": "not-it"}, "Invalid IdToken Nonce."),
        (
            {"client_id": CHANNEL_ID, "user_id": "U" + "6" * 32},
            "Invalid IdToken Subject Identifier.",
        ),
    ]
    for form, description in cases:
        refused = verify(served, id_token=token, **form)
        assert refused.status_code == 400
        assert refused.json() == {"error": "invalid_request", "error_description": description}
    fine = verify(served, id_token=token, client_id=CHANNEL_ID, nonce="n0nce", user_id=USER)
    assert fine.status_code == 200 and fine.json()["sub"] == USER


def test_an_expired_id_token_and_one_from_elsewhere(line):
    state, served = line
    clock = state.login.clock = Clock()
    token = id_token_for(served)
    exp = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))["exp"]
    clock.now = exp - 1
    assert verify(served, id_token=token, client_id=CHANNEL_ID).status_code == 200
    clock.now = exp
    expired = verify(served, id_token=token, client_id=CHANNEL_ID)
    assert expired.json()["error_description"] == "IdToken expired."
    # Signed with the right secret but not issued by LINE.
    forged = jwt_encode(
        CHANNEL_SECRET, {"iss": "https://evil.example", "sub": USER, "aud": CHANNEL_ID, "exp": exp}
    )
    clock.now = exp - 10
    refused = verify(served, id_token=forged, client_id=CHANNEL_ID)
    assert refused.json()["error_description"] == "Invalid IdToken Issuer."


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def hs256_under_another_alg(claims: dict, alg: str) -> str:
    signing_input = f"{b64({'typ': 'JWT', 'alg': alg})}.{b64(claims)}"
    mac = hmac.new(CHANNEL_SECRET.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


def test_tampered_id_tokens_are_invalid(line):
    _, served = line
    token = id_token_for(served)
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    someone_else = {**claims, "sub": "U" + "6" * 32}
    tampered = [
        f"{header}.{b64(someone_else)}.{signature}",  # payload changed, signature kept
        f"{b64({'typ': 'JWT', 'alg': 'none'})}.{b64(someone_else)}.",  # alg none
        jwt_encode(OTHER_SECRET, someone_else),  # signed with another secret
        hs256_under_another_alg(claims, "HS512"),  # right key and MAC, header not HS256
        token[:-2] + ("AA" if not token.endswith("AA") else "BB"),  # signature bytes changed
        "not.a.token",
        "only-one-part",
    ]
    for bad in tampered:
        refused = verify(served, id_token=bad, client_id=CHANNEL_ID)
        assert refused.status_code == 400, bad
        assert refused.json()["error_description"] == "Invalid IdToken.", bad
        with pytest.raises(Exception):  # noqa: B017  joserfc refuses each too
            jwt.decode(bad, OctKey.import_key(CHANNEL_SECRET), ["HS256"])


# -- the authorization request -------------------------------------------------------------


def test_cancel_redirects_with_access_denied_and_the_state(line):
    state, served = line
    location = sign_in(
        requests.Session(), authorize_url(served.url, state="abc123"), action="cancel"
    )
    assert location.startswith(REDIRECT + "?")
    assert query_of(location) == {
        "error": "ACCESS_DENIED",
        "error_description": "The resource owner denied the request.",
        "state": "abc123",
    }
    assert not state.login.codes


def test_missing_state_redirects_with_invalid_request(line):
    _, served = line
    url = authorize_url(served.url).replace("&state=s7a7e", "")
    refused = requests.get(url, allow_redirects=False, timeout=10)
    assert refused.status_code == 302
    assert query_of(refused.headers["Location"]) == {
        "error": "INVALID_REQUEST",
        "error_description": "'state' is not specified.",
    }


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"response_type": "token"}, "UNSUPPORTED_RESPONSE_TYPE"),
        ({"response_type": ""}, "INVALID_REQUEST"),
        ({"scope": ""}, "INVALID_SCOPE"),
        ({"scope": "email"}, "INVALID_SCOPE"),
        ({"scope": "openid email"}, "INVALID_SCOPE"),
        ({"scope": "openid chat"}, "INVALID_SCOPE"),
        ({"prompt": "none"}, "LOGIN_REQUIRED"),
        ({"prompt": "later"}, "INVALID_REQUEST"),
        ({"max_age": "-1"}, "INVALID_REQUEST"),
        ({"code_challenge": "a" * 43, "code_challenge_method": "plain"}, "INVALID_REQUEST"),
        ({"code_challenge": "short", "code_challenge_method": "S256"}, "INVALID_REQUEST"),
        ({"response_mode": "form_post"}, "INVALID_REQUEST"),
    ],
)
def test_bad_authorization_requests_redirect_with_lines_error_codes(line, params, error):
    _, served = line
    refused = requests.get(authorize_url(served.url, **params), allow_redirects=False, timeout=10)
    assert refused.status_code == 302
    answer = query_of(refused.headers["Location"])
    assert answer["error"] == error and answer["state"] == "s7a7e" and answer["error_description"]
    assert refused.headers["Location"].startswith(REDIRECT + "?")


def test_a_parameter_given_twice_is_invalid_request(line):
    _, served = line
    refused = requests.get(
        authorize_url(served.url) + "&state=again", allow_redirects=False, timeout=10
    )
    assert query_of(refused.headers["Location"])["error"] == "INVALID_REQUEST"


@pytest.mark.parametrize(
    "params",
    [
        {"client_id": "9999999999"},
        {"client_id": ""},
        {"redirect_uri": "http://127.0.0.1:10/console/auth/line/callback"},  # another port
        {"redirect_uri": "http://127.0.0.1:9/console/auth/line/callback/"},  # another path
        {"redirect_uri": "http://localhost:9/console/auth/line/callback"},  # another host
        {"redirect_uri": REDIRECT + "#x"},
        {"redirect_uri": ""},
    ],
)
def test_an_unknown_client_or_callback_gets_an_error_page_not_a_redirect(line, params):
    _, served = line
    page = requests.get(authorize_url(served.url, **params), allow_redirects=False, timeout=10)
    assert page.status_code == 400
    assert page.headers["Content-Type"].startswith("text/html")
    assert 'lang="th"' in page.text and "Location" not in page.headers


def test_the_callback_may_carry_its_own_query_string(line):
    _, served = line
    location = sign_in(
        requests.Session(), authorize_url(served.url, redirect_uri=REDIRECT + "?a=1")
    )
    assert location.startswith(REDIRECT + "?a=1&code=")
    assert query_of(location)["state"] == "s7a7e"


# -- the page --------------------------------------------------------------------------------


def test_the_page_lists_simulated_users_in_thai_and_needs_no_inline_script(line):
    state, served = line
    state.ensure_user("U" + "7" * 32, "สมศรี")
    page = requests.get(authorize_url(served.url), timeout=10)
    html = page.text
    assert page.status_code == 200 and 'lang="th"' in html
    assert "สมศรี" in html and "ผู้ประสานงาน สงขลา" in html and "U" + "7" * 32 in html
    assert "อนุญาต" in html and "ยกเลิก" in html
    assert '<form method="post"' in html  # works without JavaScript
    assert all("src=" in tag for tag in re.findall(r"<script[^>]*>", html))  # none inline
    assert "style=" not in html and "<style" not in html
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp
    assert "form-action 'self' http://127.0.0.1:9" in csp
    for asset in re.findall(r'(?:href|src)="(/_sim/static/[^"]+)"', html):
        assert requests.get(served.url + asset, timeout=10).status_code == 200


def test_a_typed_user_id_and_name_sign_in_a_new_user_who_is_not_a_friend(line):
    state, served = line
    typed = "U" + "8" * 32
    location = sign_in(
        requests.Session(),
        authorize_url(served.url),
        user="other",
        new_user_id=typed,
        new_name="ผู้ตรวจ ภาคใต้",
    )
    token = token_request(served, code=query_of(location)["code"]).json()
    claims = jwt.decode(token["id_token"], OctKey.import_key(CHANNEL_SECRET), ["HS256"]).claims
    assert claims["sub"] == typed and claims["name"] == "ผู้ตรวจ ภาคใต้"
    assert state.users[typed].following is False  # signing in adds no friend

    # Left blank, the id is made up: a brand-new LINE account.
    location = sign_in(requests.Session(), authorize_url(served.url), user="other", new_name="ใหม่")
    token = token_request(served, code=query_of(location)["code"]).json()
    sub = jwt.decode(token["id_token"], OctKey.import_key(CHANNEL_SECRET), ["HS256"]).claims["sub"]
    assert re.fullmatch(r"U[0-9a-f]{32}", sub) and state.users[sub].display_name == "ใหม่"


def test_a_bad_choice_shows_the_page_again_and_the_request_stays_usable(line):
    state, served = line
    browser = requests.Session()
    page = browser.get(authorize_url(served.url), timeout=10)
    request_id = page_request_id(page.text)
    post = f"{served.url}/oauth2/v2.1/authorize"
    again = browser.post(
        post,
        data={"request": request_id, "user": "other", "new_user_id": "bob", "action": "allow"},
        allow_redirects=False,
        timeout=10,
    )
    assert again.status_code == 400 and "user id ต้องเป็น" in again.text
    unknown = browser.post(
        post,
        data={"request": request_id, "user": "U" + "9" * 32, "action": "allow"},
        allow_redirects=False,
        timeout=10,
    )
    assert unknown.status_code == 400 and "ไม่พบผู้ใช้" in unknown.text
    done = browser.post(
        post, data={"request": request_id, "user": USER, "action": "allow"}, allow_redirects=False
    )
    assert done.status_code == 302 and "code=" in done.headers["Location"]
    twice = browser.post(
        post, data={"request": request_id, "user": USER, "action": "allow"}, allow_redirects=False
    )
    assert twice.status_code == 400 and len(state.login.codes) == 1


# -- access tokens, profile, refresh, revoke -------------------------------------------------------


def test_access_token_verify_profile_userinfo_refresh_and_revoke(line):
    state, served = line
    clock = state.login.clock = Clock()
    tokens = token_request(served, code=code_for(served)).json()
    access, refresh = tokens["access_token"], tokens["refresh_token"]
    api = served.url

    def bearer(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    checked = requests.get(f"{api}/oauth2/v2.1/verify", params={"access_token": access})
    assert checked.json() == {
        "scope": "openid profile",
        "client_id": CHANNEL_ID,
        "expires_in": 2592000,
    }
    assert checked.headers["x-line-request-id"]
    state.ensure_user(USER, "ชื่อใหม่")  # the profile shows the name as it is now
    profile = requests.get(f"{api}/v2/profile", headers=bearer(access), timeout=10)
    assert profile.json() == {"userId": USER, "displayName": "ชื่อใหม่"}
    userinfo = requests.get(f"{api}/oauth2/v2.1/userinfo", headers=bearer(access), timeout=10)
    assert userinfo.json() == {"sub": USER, "name": "ชื่อใหม่"}
    assert requests.get(f"{api}/v2/profile", headers=bearer("nope")).status_code == 401
    assert requests.get(f"{api}/v2/profile", headers=bearer(TOKEN)).status_code == 401

    clock.now += 30 * 86400  # the access token's 30 days are over
    gone = requests.get(f"{api}/oauth2/v2.1/verify", params={"access_token": access})
    assert gone.status_code == 400 and gone.json() == {
        "error": "invalid_request",
        "error_description": "access token expired",
    }
    form = {"client_id": CHANNEL_ID, "client_secret": CHANNEL_SECRET}
    renewed = requests.post(
        f"{api}/oauth2/v2.1/token",
        data={"grant_type": "refresh_token", "refresh_token": refresh, **form},
    )
    assert renewed.status_code == 200
    assert renewed.json()["refresh_token"] == refresh and "id_token" not in renewed.json()
    new_access = renewed.json()["access_token"]
    assert requests.get(f"{api}/v2/profile", headers=bearer(new_access)).status_code == 200

    revoked = requests.post(f"{api}/oauth2/v2.1/revoke", data={"access_token": new_access, **form})
    assert revoked.status_code == 200 and revoked.content == b""
    assert requests.get(f"{api}/v2/profile", headers=bearer(new_access)).status_code == 401
    wrong = requests.post(
        f"{api}/oauth2/v2.1/revoke",
        data={"access_token": new_access, "client_id": CHANNEL_ID, "client_secret": OTHER_SECRET},
    )
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_client"

    clock.now += 60 * 86400  # 90 days after the first access token: the refresh token is over
    late = requests.post(
        f"{api}/oauth2/v2.1/token",
        data={"grant_type": "refresh_token", "refresh_token": refresh, **form},
    )
    assert late.status_code == 400 and late.json() == {
        "error": "invalid_grant",
        "error_description": "invalid refresh token",
    }


def test_revoke_takes_lines_parameters_not_rfc_7009s(line):
    """Authlib's revoke_token sends RFC 7009's `token`; LINE's revoke wants `access_token` (with
    client_id and client_secret in the body), so a client posts that itself."""
    _, served = line
    access = token_request(served, code=code_for(served)).json()["access_token"]
    url = f"{served.url}/oauth2/v2.1/revoke"
    rfc7009 = session(served, revocation_endpoint_auth_method="client_secret_post")
    refused = rfc7009.revoke_token(url, access)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_request"
    lines_way = requests.post(
        url,
        data={"access_token": access, "client_id": CHANNEL_ID, "client_secret": CHANNEL_SECRET},
        timeout=10,
    )
    assert lines_way.status_code == 200
    gone = requests.get(f"{served.url}/oauth2/v2.1/verify", params={"access_token": access})
    assert gone.status_code == 400


def test_scopes_decide_the_id_token_and_what_the_token_may_read(line):
    _, served = line
    only_profile = token_request(served, code=code_for(served, scope="profile")).json()
    assert "id_token" not in only_profile and only_profile["scope"] == "profile"
    headers = {"Authorization": f"Bearer {only_profile['access_token']}"}
    assert requests.get(f"{served.url}/oauth2/v2.1/userinfo", headers=headers).status_code == 403
    only_openid = token_request(served, code=code_for(served, scope="openid")).json()
    claims = jwt.decode(
        only_openid["id_token"], OctKey.import_key(CHANNEL_SECRET), ["HS256"]
    ).claims
    assert "name" not in claims and claims["sub"] == USER
    headers = {"Authorization": f"Bearer {only_openid['access_token']}"}
    assert requests.get(f"{served.url}/v2/profile", headers=headers).status_code == 403


def test_max_age_puts_auth_time_in_the_id_token(line):
    state, served = line
    clock = state.login.clock = Clock()
    token = id_token_for(served, max_age="600")
    claims = jwt.decode(token, OctKey.import_key(CHANNEL_SECRET), ["HS256"]).claims
    assert claims["auth_time"] == int(clock.now)
    assert (
        "auth_time"
        not in jwt.decode(id_token_for(served), OctKey.import_key(CHANNEL_SECRET), ["HS256"]).claims
    )


# -- configuration -------------------------------------------------------------------------


def test_the_channel_comes_from_the_consoles_environment_variables():
    env = {"LINE_LOGIN_CHANNEL_ID": "2000000001", "LINE_LOGIN_CHANNEL_SECRET": "s" * 32}
    [channel] = channels_from_env(env, "http://127.0.0.1:8000")
    assert (channel.channel_id, channel.channel_secret) == ("2000000001", "s" * 32)
    assert channel.redirect_uris == [
        "http://127.0.0.1:8000/console/auth/line/callback",
        "http://localhost:8000/console/auth/line/callback",
    ]
    listed = {**env, "SIM_LOGIN_REDIRECT_URIS": "https://desk.example/cb, http://127.0.0.1:5000/cb"}
    [channel] = channels_from_env(listed, "http://127.0.0.1:8000")
    assert channel.redirect_uris == ["https://desk.example/cb", "http://127.0.0.1:5000/cb"]
    assert channels_from_env({"LINE_LOGIN_CHANNEL_ID": "1"}, "http://x") == []


def test_make_run_gives_the_console_and_the_simulator_one_login_channel(monkeypatch):
    from bot.devrun import dev_environment

    for name in ("LINE_LOGIN_CHANNEL_ID", "LINE_LOGIN_CHANNEL_SECRET", "SIM_LOGIN_REDIRECT_URIS"):
        monkeypatch.delenv(name, raising=False)
    env = dev_environment()
    [channel] = channels_from_env(env, "http://127.0.0.1:8000")
    assert channel.channel_id == env["LINE_LOGIN_CHANNEL_ID"]
    assert channel.channel_secret == env["LINE_LOGIN_CHANNEL_SECRET"]


def test_the_control_api_registers_channels_and_never_shows_secrets(sim):
    state, served = sim
    spec = {"channel_id": OTHER_ID, "channel_secret": OTHER_SECRET, "redirect_uris": [REDIRECT]}
    answer = requests.post(
        f"{served.url}/_sim/login", json={"channels": [spec], "code_ttl_s": 30}, timeout=10
    )
    assert answer.status_code == 200
    assert answer.json()["channels"] == [{"channel_id": OTHER_ID, "redirect_uris": [REDIRECT]}]
    assert answer.json()["code_ttl_s"] == 30 and OTHER_SECRET not in answer.text
    assert OTHER_SECRET not in requests.get(f"{served.url}/_sim/login", timeout=10).text
    assert state.login.authenticate(OTHER_ID, OTHER_SECRET) is not None
    for bad in ({"channels": [{"channel_id": "1"}]}, {"code_ttl_s": -1}, [1]):
        assert requests.post(f"{served.url}/_sim/login", json=bad, timeout=10).status_code == 400


def test_the_messaging_api_still_wants_the_channel_access_token(line):
    _, served = line
    bot_profile = requests.get(f"{served.url}/v2/bot/profile/{USER}", timeout=10)
    assert bot_profile.status_code == 401
    with_token = requests.get(
        f"{served.url}/v2/bot/profile/{USER}", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert with_token.status_code == 200
