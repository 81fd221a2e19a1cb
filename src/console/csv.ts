/**
 * One CSV line (RFC 4180: every cell quoted, quotes doubled, CRLF), safe to open in a spreadsheet: a
 * cell starting with = + - @ (or a tab or carriage return, which some spreadsheets skip before reading
 * a formula) is prefixed with a single quote, so it is shown as text and never run as a formula.
 */
export function csvRow(cells: ReadonlyArray<string>): string {
  return `${cells.map((cell) => `"${(/^[=+\-@\t\r]/.test(cell) ? `'${cell}` : cell).replace(/"/g, '""')}"`).join(',')}\r\n`;
}
