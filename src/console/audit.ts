import type Router from '@koa/router';
import type { ConsolePageDeps } from './index.js';

/** The console's Audit trail page. */
export function auditPages(_router: Router, _deps: ConsolePageDeps): void {}
