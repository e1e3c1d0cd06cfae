// A real OpenID provider for the tests: panva's oidc-provider (OpenID Certified), configured
// for a confidential client with PKCE (S256) required, refresh tokens that rotate, revocation
// (RFC 7009), introspection (RFC 7662), userinfo and RP-initiated logout.
//
//   node provider.mjs --port 8765 [--config config.json]
//
// The issuer is http://127.0.0.1:PORT. The config file (JSON) holds `clients` (oidc-provider
// client metadata), `accounts` ({id: {email, email_verified, preferred_username, name}}; the
// id is the subject) and optionally `ttl` (seconds per token kind, e.g. {"AccessToken": 5})
// and `slow_refresh_ms` (answer each refresh that long after its new tokens were issued, the
// old refresh token already spent: a client that gives up meanwhile has lost them).
//
// Login without a browser form: the authorization request's `login_hint` names a test account,
// or GET /interaction/<uid>?account=<id> does; otherwise /interaction/<uid> shows a one-field
// form (POST account=<id>). Login grants every requested scope at once (no consent page).
// To make the next refresh fail, revoke the refresh token at /token/revocation: revoking it
// revokes the whole grant.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import Provider from 'oidc-provider';

const here = dirname(fileURLToPath(import.meta.url));
const { values: args } = parseArgs({
  options: {
    port: { type: 'string' },
    config: { type: 'string', default: join(here, 'config.json') },
  },
});
const port = Number(args.port);
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  console.error('usage: node provider.mjs --port N [--config FILE]');
  process.exit(2);
}
const config = JSON.parse(readFileSync(args.config, 'utf8'));
const accounts = config.accounts ?? {};
const issuer = `http://127.0.0.1:${port}`;

// The signing key: `signing_key` of the config (a private JWK, so that tests can also sign
// tokens "from" this provider), else a new RSA key.
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = config.signing_key ?? { ...privateKey.export({ format: 'jwk' }), kid: 'test-key', use: 'sig', alg: 'RS256' };

const escape = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const provider = new Provider(issuer, {
  clients: config.clients,
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  scopes: ['openid', 'email', 'profile', 'offline_access'],
  // `claims` of the config replaces these (a provider posing as Slack adds its
  // https://slack.com/... claims to openid).
  claims: config.claims ?? {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['preferred_username', 'name'],
  },
  // The ID token carries the scopes' claims too, as most providers' do (Google, Entra, Keycloak).
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  rotateRefreshToken: true,
  ttl: config.ttl ?? {},
  features: {
    devInteractions: { enabled: false },
    revocation: { enabled: true },
    introspection: { enabled: true },
    userinfo: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
  async findAccount(_ctx, id) {
    if (!Object.hasOwn(accounts, id)) return undefined;
    return { accountId: id, claims: async () => ({ ...accounts[id], sub: id }) };
  },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
});

async function readForm(req) {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 10000) break;
  }
  return new URLSearchParams(body);
}

// The interaction route: log the named test account in and grant what the client asked for.
provider.use(async (ctx, next) => {
  const match = /^\/interaction\/([\w-]+)$/.exec(ctx.path);
  if (!match) return next();
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  const { params } = details;
  let account = ctx.query.account ?? params.login_hint;
  if (ctx.method === 'POST') account = (await readForm(ctx.req)).get('account');
  if (!account) {
    ctx.type = 'html';
    ctx.body = `<!doctype html><html lang="en"><head><title>Test provider sign-in</title></head>
<body><main><h1>Sign in to the test provider</h1>
<form method="post" action="/interaction/${escape(details.uid)}">
<label for="account">Account</label> <input id="account" name="account" autofocus>
<button type="submit">Sign in</button></form></main></body></html>`;
    return undefined;
  }
  if (!Object.hasOwn(accounts, account)) {
    ctx.status = 400;
    ctx.body = `unknown test account: ${account}`;
    return undefined;
  }
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: account, clientId: params.client_id });
  grant.addOIDCScope(params.scope);
  const grantId = await grant.save();
  const result = { login: { accountId: account }, consent: { grantId } };
  ctx.redirect(await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: false }));
  return undefined;
});

// A slow token endpoint for refreshes only (the tests of a command abandoned meanwhile).
const slowRefreshMs = Number(config.slow_refresh_ms ?? 0);
if (slowRefreshMs > 0) {
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.oidc?.route === 'token' && ctx.oidc?.params?.grant_type === 'refresh_token') {
      await new Promise((resolve) => { setTimeout(resolve, slowRefreshMs); });
    }
  });
}

const server = provider.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${issuer}`);
});
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
