import Bowser from 'bowser';
import { m, type Text } from '../../i18n/index.js';

/**
 * A user agent in words a person recognizes ("Chrome 131 on Windows 10"), for the account pages'
 * sessions and activity. Browser and system names are product names, left as they are.
 */
export function browserOf(userAgent: string | null): Text {
  if (!userAgent) return m('Unknown browser');
  const parsed = Bowser.parse(userAgent);
  const browser = [parsed.browser.name, parsed.browser.version?.split('.')[0]].filter(Boolean).join(' ');
  const os = [parsed.os.name, parsed.os.versionName ?? parsed.os.version].filter(Boolean).join(' ');
  if (browser && os) return m('{{browser}} on {{os}}', { browser, os });
  return browser || os || m('Unknown browser');
}
