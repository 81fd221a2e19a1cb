import type Router from '@koa/router';
import type { ConsolePageDeps } from './index.js';

/** The console's Members and roles page. */
export function memberPages(_router: Router, _deps: ConsolePageDeps): void {}
