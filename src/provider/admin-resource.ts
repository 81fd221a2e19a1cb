/** The admin API as an OAuth resource server: its identifier and its one scope. */
export const ADMIN_SCOPE = 'admin';
export const adminResourceOf = (issuer: string): string => `${issuer}/admin/v1`;
