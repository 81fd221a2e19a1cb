import { join } from 'node:path';
import ejs from 'ejs';
import type { Context } from 'koa';
import { VIEWS_DIR } from '../paths.js';

/** Renders an ejs page from views/ into the response. Output is escaped unless a template says otherwise. */
export async function render(ctx: Context, name: string, data: Record<string, unknown>, status = 200): Promise<void> {
  ctx.status = status;
  ctx.type = 'html';
  ctx.body = await ejs.renderFile(join(VIEWS_DIR, `${name}.ejs`), data, { async: false, cache: true });
}
