import type Router from '@koa/router';
import type { ConsolePageDeps } from './index.js';

/** The console's Platform pages (platform admins only). */
export function platformPages(_router: Router, _deps: ConsolePageDeps): void {}
