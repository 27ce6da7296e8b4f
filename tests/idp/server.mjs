// A real OpenID provider for the tests: panva's oidc-provider (certified OpenID Connect), on loopback.
//
// Configured like an organization's provider would be for Clearpost: one confidential client
// (client_secret_basic), PKCE required (S256), auth_time always in the ID token, groups in the
// `profile` scope and in the ID token itself, RP-initiated logout. Users live in memory and are
// created by the tests through PUT /test/users/<sub> (loopback only); the login page checks their
// password and signs them in with the amr/acr their record names. A record's `auth_age_seconds`
// back-dates the authentication (a provider that ignored max_age, to test that Clearpost refuses).
//
// Settings from the environment: IDP_PORT, IDP_ISSUER, IDP_CLIENTS (JSON list of client metadata).
import { createServer } from 'node:http';
import Provider from 'oidc-provider';

const port = Number(process.env.IDP_PORT || 0);
const issuer = process.env.IDP_ISSUER || `http://127.0.0.1:${port}`;
const clients = JSON.parse(process.env.IDP_CLIENTS || '[]');
const users = new Map();

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const provider = new Provider(issuer, {
  clients: clients.map((c) => ({
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    require_auth_time: true,
    ...c,
  })),
  pkce: { required: () => true },
  // The provider refuses to call special-use addresses (SSRF protection); the tests' back-channel
  // logout receiver is on loopback, the only address this test provider ever calls.
  fetch: (url, options) => {
    const { dispatcher, ...rest } = options;
    return globalThis.fetch(url, rest);
  },
  claims: {
    openid: ['sub', 'acr', 'amr'],
    profile: ['name', 'preferred_username', 'groups'],
    email: ['email', 'email_verified'],
  },
  conformIdTokenClaims: false,
  acrValues: ['urn:clearpost:test:pwd', 'urn:clearpost:test:mfa'],
  cookies: { keys: ['clearpost-test-idp-cookie-key'] },
  features: {
    devInteractions: { enabled: false },
    rpInitiatedLogout: { enabled: true },
    backchannelLogout: { enabled: true },
  },
  ttl: { Session: 3600, Interaction: 600, Grant: 3600, IdToken: 600, AccessToken: 600, AuthorizationCode: 60 },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, sub) {
    const user = users.get(sub);
    if (!user) return undefined;
    return { accountId: sub, async claims() { return { sub, ...user.claims }; } };
  },
  // A first-party client: its scopes are granted without a consent page.
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) {
      const found = await ctx.oidc.provider.Grant.find(grantId);
      if (found) return found;
    }
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid profile email offline_access');
    await grant.save();
    return grant;
  },
});
provider.proxy = false;
provider.on('backchannel.error', (ctx, err, client) => {
  console.error(`back-channel logout to ${client.clientId} failed: ${err.message}`);
});

function loginPage(uid, error) {
  return `<!DOCTYPE html><html><head><title>Test IdP sign-in</title></head><body>
<h1>Test identity provider</h1>${error ? `<p role="alert">${escape(error)}</p>` : ''}
<form method="post" action="/interaction/${escape(uid)}/login">
<label>Username <input name="login" autocomplete="username" autofocus></label>
<label>Password <input name="password" type="password" autocomplete="current-password"></label>
<button type="submit">Sign in</button></form></body></html>`;
}

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

provider.use(async (ctx, next) => {
  const path = ctx.path;
  const userMatch = path.match(/^\/test\/users\/([^/]+)$/);
  if (userMatch) {
    const sub = decodeURIComponent(userMatch[1]);
    if (ctx.method === 'PUT') {
      const body = JSON.parse(await readBody(ctx.req));
      users.set(sub, {
        password: body.password,
        claims: body.claims || {},
        amr: body.amr || ['pwd'],
        acr: body.acr || 'urn:clearpost:test:pwd',
        authAgeSeconds: body.auth_age_seconds || 0,
      });
      ctx.status = 204;
      return;
    }
    if (ctx.method === 'DELETE') {
      users.delete(sub);
      ctx.status = 204;
      return;
    }
  }
  const interaction = path.match(/^\/interaction\/([^/]+)(\/login)?$/);
  if (interaction) {
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    if (details.prompt.name !== 'login') {
      // Consent is never asked (loadExistingGrant): anything else is finished as it stands.
      ctx.redirect(await provider.interactionResult(ctx.req, ctx.res, {}, { mergeWithLastSubmission: true }));
      return;
    }
    if (ctx.method === 'GET' && !interaction[2]) {
      ctx.type = 'html';
      ctx.body = loginPage(details.uid);
      return;
    }
    if (ctx.method === 'POST' && interaction[2]) {
      const form = new URLSearchParams(await readBody(ctx.req));
      const sub = form.get('login') || '';
      const user = users.get(sub);
      if (!user || user.password !== form.get('password')) {
        ctx.status = 401;
        ctx.type = 'html';
        ctx.body = loginPage(details.uid, 'Wrong username or password.');
        return;
      }
      const ts = Math.floor(Date.now() / 1000) - user.authAgeSeconds;
      const result = { login: { accountId: sub, amr: user.amr, acr: user.acr, ts, remember: true } };
      ctx.redirect(await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: false }));
      return;
    }
  }
  await next();
});

const server = createServer(provider.callback());
server.listen(port, '127.0.0.1', () => {
  // The test fixture waits for this line.
  console.log(`listening ${server.address().port}`);
});
