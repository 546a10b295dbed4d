import { createHash, createPublicKey, randomBytes, verify } from "node:crypto";
import { createServer, type Server } from "node:http";

/**
 * A small OpenID Connect relying party for the browser tests: configured
 * with the issuer, a client id and a secret only (discovery does the rest),
 * it runs the code flow with PKCE and a nonce, checks the ID token's RS256
 * signature against the JWKS, its issuer, audience, expiry and nonce, and
 * shows the claims. `/login?acr=…` starts a sign-in, `/logout` signs out
 * through Tessera.
 */
export class RelyingParty {
  private server?: Server;
  private pending = new Map<string, { nonce: string; verifier: string }>();
  private lastIdToken = "";
  readonly base: string;

  constructor(
    private issuer: string,
    private clientId: string,
    private clientSecret: string,
    private port: number,
  ) {
    this.base = `http://127.0.0.1:${port}`;
  }

  async start() {
    const discovery = await (await fetch(`${this.issuer}/.well-known/openid-configuration`)).json();
    if (discovery.issuer !== this.issuer) throw new Error(`issuer ${discovery.issuer}`);
    this.server = createServer((req, res) => {
      this.handle(discovery, new URL(req.url ?? "/", this.base))
        .then(([status, headers, body]) => {
          res.writeHead(status, headers);
          res.end(body);
        })
        .catch((e) => {
          res.writeHead(500, { "content-type": "text/plain" });
          res.end(String(e));
        });
    });
    await new Promise<void>((ok) => this.server?.listen(this.port, "127.0.0.1", ok));
  }

  async stop() {
    await new Promise((ok) => this.server?.close(ok));
  }

  private async handle(
    d: Record<string, string>,
    url: URL,
  ): Promise<[number, Record<string, string>, string]> {
    const html = (body: string): [number, Record<string, string>, string] => [
      200,
      { "content-type": "text/html; charset=utf-8" },
      `<!DOCTYPE html><html><body>${body}</body></html>`,
    ];
    if (url.pathname === "/login") {
      const state = b64url(randomBytes(16));
      const nonce = b64url(randomBytes(16));
      const verifier = b64url(randomBytes(32));
      this.pending.set(state, { nonce, verifier });
      const to = new URL(d.authorization_endpoint);
      const q = to.searchParams;
      q.set("response_type", "code");
      q.set("client_id", this.clientId);
      q.set("redirect_uri", `${this.base}/callback`);
      q.set("scope", "openid profile");
      q.set("state", state);
      q.set("nonce", nonce);
      q.set("code_challenge", b64url(createHash("sha256").update(verifier).digest()));
      q.set("code_challenge_method", "S256");
      const acr = url.searchParams.get("acr");
      if (acr) q.set("acr_values", acr);
      return [302, { location: to.toString() }, ""];
    }
    if (url.pathname === "/callback") {
      const state = url.searchParams.get("state") ?? "";
      const pending = this.pending.get(state);
      if (!pending) return [400, {}, "unknown state"];
      this.pending.delete(state);
      const error = url.searchParams.get("error");
      if (error) return html(`<p data-testid="rp-error">${error}</p>`);
      const token = await fetch(d.token_endpoint, {
        method: "POST",
        headers: {
          authorization: `Basic ${Buffer.from(`${this.clientId}:${this.clientSecret}`).toString("base64")}`,
          "content-type": "application/x-www-form-urlencoded",
        },
        body: new URLSearchParams({
          grant_type: "authorization_code",
          code: url.searchParams.get("code") ?? "",
          redirect_uri: `${this.base}/callback`,
          code_verifier: pending.verifier,
        }),
      });
      const tokens = await token.json();
      if (!token.ok) return [502, {}, JSON.stringify(tokens)];
      const claims = await this.checkIdToken(d, tokens.id_token, pending.nonce);
      this.lastIdToken = tokens.id_token;
      const info = await (
        await fetch(d.userinfo_endpoint, { headers: { authorization: `Bearer ${tokens.access_token}` } })
      ).json();
      return html(
        `<h1>Signed in to Payroll</h1><p data-testid="rp-user">${info.preferred_username}</p>` +
          `<p data-testid="rp-acr">${claims.acr}</p><p data-testid="rp-amr">${claims.amr.join(" ")}</p>`,
      );
    }
    if (url.pathname === "/logout") {
      const to = new URL(d.end_session_endpoint);
      to.searchParams.set("id_token_hint", this.lastIdToken);
      to.searchParams.set("post_logout_redirect_uri", `${this.base}/bye`);
      to.searchParams.set("state", "bye-state");
      return [302, { location: to.toString() }, ""];
    }
    if (url.pathname === "/bye") {
      return html(`<p data-testid="rp-bye">Signed out (${url.searchParams.get("state")})</p>`);
    }
    if (url.pathname === "/favicon.ico") return [204, {}, ""];
    return [404, {}, "not found"];
  }

  /** Verifies an ID token as a careful relying party does. */
  private async checkIdToken(d: Record<string, string>, jwt: string, nonce: string) {
    const [h, p, s] = jwt.split(".");
    const header = JSON.parse(Buffer.from(h, "base64url").toString());
    const jwks = await (await fetch(d.jwks_uri)).json();
    const jwk = jwks.keys.find((k: { kid: string }) => k.kid === header.kid);
    if (header.alg !== "RS256" || !jwk) throw new Error(`no key for ${JSON.stringify(header)}`);
    const key = createPublicKey({ key: jwk, format: "jwk" });
    if (!verify("RSA-SHA256", Buffer.from(`${h}.${p}`), key, Buffer.from(s, "base64url"))) {
      throw new Error("bad signature");
    }
    const claims = JSON.parse(Buffer.from(p, "base64url").toString());
    const now = Date.now() / 1000;
    if (claims.iss !== this.issuer || claims.aud !== this.clientId || claims.nonce !== nonce || claims.exp < now) {
      throw new Error(`bad claims ${JSON.stringify(claims)}`);
    }
    return claims;
  }
}

function b64url(b: Buffer): string {
  return b.toString("base64url");
}
