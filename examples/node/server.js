// An Express service living beside the Rust ones during a migration
// (book/src/appendix-migration.md). Both directions of trust:
//
// - GET /api/whoami accepts access tokens issued by 14_production, verified
//   with passport-jwt against the keys 14 publishes at /.well-known/jwks.json;
// - POST /auth/login issues this service's own tokens with jsonwebtoken (ES256,
//   a key pair made at start), whose public key it publishes the same way, so
//   15_resource_server can verify them.
//
//   PORT=3001 ISSUER_URL=http://127.0.0.1:3000 node examples/node/server.js
//
// PORT          3001 (0 picks a free port)
// ISSUER_URL    the Rust issuer it trusts (default http://127.0.0.1:3000)
// JWT_AUDIENCE  the audience of every token, issued or accepted (default notes-api)
'use strict';

const crypto = require('node:crypto');
const { promisify } = require('node:util');
const express = require('express');
const passport = require('passport');
const { Strategy: JwtStrategy, ExtractJwt } = require('passport-jwt');
const { passportJwtSecret } = require('jwks-rsa');
const jwt = require('jsonwebtoken');

const PORT = Number(process.env.PORT ?? 3001);
const RUST_ISSUER = process.env.ISSUER_URL ?? 'http://127.0.0.1:3000';
const AUDIENCE = process.env.JWT_AUDIENCE ?? 'notes-api';

// ANCHOR: verify
// Trust 14_production's tokens: its public keys come from its JWKS, chosen by
// the token's `kid`. jwks-rsa caches them and, when a token names a `kid` it
// has not seen (14 rotated its key), fetches again, at most 5 times a minute:
// made-up `kid`s cannot turn this service into a flood against the issuer.
passport.use(new JwtStrategy({
  jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
  secretOrKeyProvider: passportJwtSecret({
    jwksUri: `${RUST_ISSUER.replace(/\/$/, '')}/.well-known/jwks.json`,
    cache: true,
    cacheMaxAge: 10 * 60 * 1000,
    rateLimit: true,
    jwksRequestsPerMinute: 5,
  }),
  // Checked by jsonwebtoken: exactly this issuer, this audience, and ES256
  // only (never the `alg` the token asks for: no `none`, no HS256 with the
  // public key as the secret).
  issuer: RUST_ISSUER,
  audience: AUDIENCE,
  algorithms: ['ES256'],
  // `complete` hands the header to the callback below; `maxAge` refuses
  // tokens issued over a day ago, as the Rust validator caps lifetimes.
  jsonWebTokenOptions: { complete: true, maxAge: '1d' },
}, ({ header, payload }, done) => {
  // What jsonwebtoken leaves out and the Rust layer checks: an access token
  // (`typ`, RFC 9068 §2.1), that expires (jsonwebtoken accepts a token
  // without `exp`), issued to someone.
  const accessToken = /^(application\/)?at\+jwt$/i.test(String(header.typ));
  const expires = typeof payload.exp === 'number';
  const subject = typeof payload.sub === 'string' && payload.sub !== '';
  if (!accessToken || !expires || !subject) {
    return done(null, false);
  }
  done(null, { sub: payload.sub, roles: payload.roles ?? [], iss: payload.iss });
}));
// ANCHOR_END: verify

// ANCHOR: keys
// This service's own signing key: a P-256 pair made at start (a real service
// loads its private key from a secret store). Its `kid` is the key's RFC 7638
// thumbprint, so it names this key and no other.
const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
const jwk = publicKey.export({ format: 'jwk' });
const kid = crypto.createHash('sha256')
  .update(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }))
  .digest('base64url');
const jwks = { keys: [{ ...jwk, kid, alg: 'ES256', use: 'sig' }] };
// ANCHOR_END: keys

// Demo accounts, as in the Rust examples: alice / wonderland (admin, user) and
// bob / builder (user). scrypt (in node:crypto) stands in for whatever password
// hashing the real app does.
const scrypt = promisify(crypto.scrypt);
const account = (password, roles) => {
  const salt = crypto.randomBytes(16);
  return { salt, hash: crypto.scryptSync(password, salt, 32), roles };
};
const users = new Map([
  ['alice', account('wonderland', ['admin', 'user'])],
  ['bob', account('builder', ['user'])],
]);
// Hashed against when the user does not exist: the same cost, the same answer.
const nobody = account(crypto.randomBytes(16).toString('hex'), []);

const app = express();
app.disable('x-powered-by'); // no need to tell the world
let selfIssuer; // this service's URL, known once it listens

// ANCHOR: sign
app.post('/auth/login', express.json(), async (req, res) => {
  const { username, password } = req.body ?? {};
  const user = (typeof username === 'string' && users.get(username)) || nobody;
  const hash = await scrypt(String(password), user.salt, 32);
  if (user === nobody || !crypto.timingSafeEqual(hash, user.hash)) {
    return res.status(400).json({
      error: 'invalid_grant', error_description: 'invalid username or password',
    });
  }
  // What the Rust services require of an access token: sub, iss, aud, exp and
  // iat (jsonwebtoken adds iat), signed with ES256 under our `kid`. The header
  // says `typ: JWT`, jsonwebtoken's default: see the appendix for what that costs.
  const token = jwt.sign({ roles: user.roles }, privateKey, {
    algorithm: 'ES256',
    keyid: kid,
    subject: username,
    issuer: selfIssuer,
    audience: AUDIENCE,
    expiresIn: '5m',
  });
  res.set('Cache-Control', 'no-store')
    .json({ access_token: token, token_type: 'Bearer', expires_in: 300 });
});
// ANCHOR_END: sign

// ANCHOR: publish
// Public by design: what a verifier needs, and no secret. 15_resource_server
// reads the discovery document, then the JWKS it names, and honours max-age.
app.get('/.well-known/openid-configuration', (req, res) => {
  res.json({
    issuer: selfIssuer,
    jwks_uri: `${selfIssuer}/.well-known/jwks.json`,
    id_token_signing_alg_values_supported: ['ES256'],
  });
});
app.get('/.well-known/jwks.json', (req, res) => {
  res.set('Cache-Control', 'public, max-age=600').json(jwks);
});
// ANCHOR_END: publish

// ANCHOR: route
// No sessions: every request carries its token.
app.get('/api/whoami', passport.authenticate('jwt', { session: false }), (req, res) => {
  res.json(req.user);
});
// ANCHOR_END: route

app.get('/health', (req, res) => res.send('ok'));

// Express's default error page shows the stack trace unless NODE_ENV=production
// (a body that is not JSON, say): answer in JSON, log the details.
app.use((err, req, res, next) => {
  console.error(err);
  const status = err.status >= 400 && err.status < 500 ? err.status : 500;
  res.status(status).json({ error: status < 500 ? 'invalid_request' : 'server_error' });
});

// Like the Rust examples: loopback only, and the address as the first line on
// stdout (the book's transcript tests wait for it); logs go to stderr.
const server = app.listen(PORT, '127.0.0.1', () => {
  const { address, port } = server.address();
  selfIssuer = `http://${address}:${port}`;
  console.log(`listening on ${selfIssuer}`);
  console.error(`trusting tokens of ${RUST_ISSUER} for ${AUDIENCE}; signing with kid ${kid}`);
});
