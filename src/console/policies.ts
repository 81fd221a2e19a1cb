import type Router from '@koa/router';
import type { ConsolePageDeps } from './index.js';

/** The console's Security Policies page. */
export function policyPages(_router: Router, _deps: ConsolePageDeps): void {}
