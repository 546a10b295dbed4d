"""A second, independent relying party for the integration tests, written
on Python's Authlib (not Rust, not the `openidconnect` crate): the code
flow with PKCE and a nonce, optionally pushed (RFC 9126), the ID token
checked by Authlib's OpenID Connect rules against the JWKS, refresh,
RP-initiated logout, and a back-channel logout endpoint that checks each
logout token as section 2.6 of Back-Channel Logout 1.0 says.

Started by `server/tests/api/authlib.rs`:
    python3 authlib_rp.py ISSUER CLIENT_ID CLIENT_SECRET PORT
Its pages answer JSON (or a redirect) for the test to drive:
    GET  /login[?par=1]      302 to the provider (after pushing, with par)
    GET  /callback           the code exchanged: {"sub", "sid", "acr"}
    GET  /refresh?sid=S      {"refreshed": true} or 400 {"error"}
    GET  /logout?sid=S       302 to the provider's end_session_endpoint
    POST /backchannel-logout 200, or 400 for a token that fails a check
    GET  /state              {"signed_in": [sid], "logged_out": [sid], "refused": [why]}
"""

import json
import secrets
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlparse

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey, jwt
from authlib.jose.errors import JoseError
from authlib.oidc.core import CodeIDToken, IDToken

LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"

issuer, client_id, client_secret, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
base = f"http://127.0.0.1:{port}"
redirect_uri = f"{base}/callback"
metadata = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=10).json()
assert metadata["issuer"] == issuer, metadata

lock = threading.Lock()
pending = {}  # state -> (code_verifier, nonce)
sessions = {}  # sid -> {"sub", "refresh_token", "id_token"}
logged_out = []
refused = []
seen_jti = set()


def session():
    return OAuth2Session(
        client_id,
        client_secret,
        scope="openid profile",
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic",
    )


def keys():
    return JsonWebKey.import_key_set(requests.get(metadata["jwks_uri"], timeout=10).json())


def id_token_claims(token, nonce=None):
    """Authlib's ID token rules: signature, iss, aud, exp, iat, nonce, at_hash."""
    claims_cls = CodeIDToken if nonce else IDToken
    claims = jwt.decode(
        token["id_token"],
        keys(),
        claims_cls=claims_cls,
        claims_options={"iss": {"essential": True, "value": issuer}},
        claims_params={"nonce": nonce, "client_id": client_id, "access_token": token["access_token"]},
    )
    claims.validate(leeway=5)
    return claims


def logout_token_claims(token):
    """Back-Channel Logout 1.0 section 2.6, steps 1-7 (replay by jti too)."""
    claims = jwt.decode(
        token,
        keys(),
        claims_options={
            "iss": {"essential": True, "value": issuer},
            "aud": {"essential": True, "value": client_id},
            "iat": {"essential": True},
            "exp": {"essential": True},
            "jti": {"essential": True},
        },
    )
    claims.validate(leeway=5)
    if claims.header.get("typ") != "logout+jwt":
        raise ValueError(f"typ {claims.header.get('typ')!r}")
    if not isinstance(claims.get("events"), dict) or LOGOUT_EVENT not in claims["events"]:
        raise ValueError("no logout event")
    if "nonce" in claims:
        raise ValueError("a nonce")
    if not claims.get("sid") and not claims.get("sub"):
        raise ValueError("neither sid nor sub")
    with lock:
        if claims["jti"] in seen_jti:
            raise ValueError("jti replayed")
        seen_jti.add(claims["jti"])
    return claims


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status, body=None, location=None):
        self.send_response(status)
        if location:
            self.send_header("Location", location)
        data = json.dumps(body).encode() if body is not None else b""
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urlparse(self.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        try:
            getattr(self, "page_" + url.path.strip("/"), self.not_found)(q)
        except Exception as e:  # the test reads what went wrong
            self.answer(400, {"error": f"{type(e).__name__}: {e}"})

    def not_found(self, q):
        self.answer(404, {"error": "no such page"})

    def page_login(self, q):
        client = session()
        verifier, nonce = generate_token(48), generate_token(20)
        url, state = client.create_authorization_url(
            metadata["authorization_endpoint"], code_verifier=verifier, nonce=nonce
        )
        with lock:
            pending[state] = (verifier, nonce)
        if q.get("par"):
            params = {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}
            pushed = requests.post(
                metadata["pushed_authorization_request_endpoint"],
                data=params,
                auth=(client_id, client_secret),
                timeout=10,
            )
            if pushed.status_code != 201:
                return self.answer(400, {"error": f"push refused: {pushed.status_code} {pushed.text}"})
            request_uri = pushed.json()["request_uri"]
            url = metadata["authorization_endpoint"] + "?" + urlencode(
                {"client_id": client_id, "request_uri": request_uri}
            )
        self.answer(302, location=url)

    def page_callback(self, q):
        with lock:
            verifier, nonce = pending.pop(q.get("state"), (None, None))
        if verifier is None:
            return self.answer(400, {"error": "unknown state"})
        if q.get("iss") != issuer:  # RFC 9207
            return self.answer(400, {"error": f"iss {q.get('iss')!r}"})
        if "error" in q:
            return self.answer(400, {"error": q["error"]})
        token = session().fetch_token(
            metadata["token_endpoint"], grant_type="authorization_code", code=q["code"], code_verifier=verifier
        )
        claims = id_token_claims(token, nonce)
        with lock:
            sessions[claims["sid"]] = {
                "sub": claims["sub"],
                "refresh_token": token.get("refresh_token"),
                "id_token": token["id_token"],
            }
        self.answer(200, {"sub": claims["sub"], "sid": claims["sid"], "acr": claims.get("acr")})

    def page_refresh(self, q):
        with lock:
            known = dict(sessions.get(q.get("sid"), {}))
        if not known.get("refresh_token"):
            return self.answer(400, {"error": "no such session"})
        token = session().refresh_token(metadata["token_endpoint"], refresh_token=known["refresh_token"])
        if "error" in token:
            return self.answer(400, {"error": token["error"]})
        claims = id_token_claims(token)
        if claims["sub"] != known["sub"]:
            return self.answer(400, {"error": "another subject"})
        with lock:
            sessions[q["sid"]]["refresh_token"] = token["refresh_token"]
        self.answer(200, {"refreshed": True})

    def page_logout(self, q):
        with lock:
            known = sessions.get(q.get("sid"))
        if not known:
            return self.answer(400, {"error": "no such session"})
        url = metadata["end_session_endpoint"] + "?" + urlencode(
            {
                "id_token_hint": known["id_token"],
                "post_logout_redirect_uri": f"{base}/logged-out",
                "state": secrets.token_urlsafe(8),
            }
        )
        self.answer(302, location=url)

    def page_state(self, q):
        with lock:
            self.answer(200, {"signed_in": sorted(sessions), "logged_out": logged_out, "refused": refused})

    def do_POST(self):
        if urlparse(self.path).path != "/backchannel-logout":
            return self.not_found({})
        length = int(self.headers.get("Content-Length", "0"))
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        try:
            claims = logout_token_claims(form.get("logout_token", ""))
        except (JoseError, ValueError) as e:
            with lock:
                refused.append(f"{type(e).__name__}: {e}")
            return self.answer(400, {"error": "invalid_request"})
        with lock:
            ended = [claims["sid"]] if claims.get("sid") else [s for s, v in sessions.items() if v["sub"] == claims["sub"]]
            for sid in ended:
                sessions.pop(sid, None)
                logged_out.append(sid)
        self.answer(200)


server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
print(f"listening on {base} at {time.time()}", flush=True)
server.serve_forever()
