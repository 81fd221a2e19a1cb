import type Router from '@koa/router';
import type { ConsolePageDeps } from './index.js';

/** The console's Users page. */
export function userPages(_router: Router, _deps: ConsolePageDeps): void {}
