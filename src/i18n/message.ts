/**
 * Messages: text for a person, marked for translation (see ./index.ts for the languages). Pure, no
 * imports: any layer (the policy functions too) may say what it has to say with m().
 */

/** A text for a person with the values to put in it, translated where it is shown. Its key is the English text. */
export interface Message {
  text: string;
  values?: Record<string, unknown>;
}
export type Text = string | Message;

/**
 * Marks English text as a message (what the translation check looks for): `m('Enter your email address.')`
 * is that string; with values, a Message. Dates among the values are shown in the reader's language (and,
 * on pages, time zone); numbers as numbers.
 */
export function m(text: string): string;
export function m(text: string, values: Record<string, unknown>): Message;
export function m(text: string, values?: Record<string, unknown>): Text {
  return values ? { text, values } : text;
}

/**
 * A Text to put inside another message as one of its values (a refusal's reason quoted in a sentence):
 * translated there too. A plain string value is put in as it is (a name, an address), so a translatable
 * one is wrapped as a Message.
 */
export const quoted = (text: Text): Message => (typeof text === 'string' ? { text } : text);
