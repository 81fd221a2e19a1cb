/** The OpenID Connect scopes Gatehouse offers (oidc-provider's `scopes`); a request's other scopes are resource scopes or unknown. */
export const OIDC_SCOPES: readonly string[] = ['openid', 'offline_access', 'email', 'profile'];
