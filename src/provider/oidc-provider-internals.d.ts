/**
 * The one internal module of oidc-provider Gatehouse calls (see provider/signing-keys.ts): the function
 * its constructor runs on the `jwks` option. Called with the provider as `this`, it validates a JWKS,
 * builds a new keystore (what ID tokens, JWT access tokens and other JWTs are signed with) and the
 * public key set the JWKS endpoint serves, and puts both in place.
 */
declare module 'oidc-provider/lib/helpers/initialize_keystore.js' {
  export default function initializeKeystore(this: object, jwks: { keys: object[] }): void;
}
