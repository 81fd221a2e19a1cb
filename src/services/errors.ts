import type { Text } from '../i18n/message.js';

/** Errors services raise; the admin API maps each to one problem type, the CLI prints the message. */
export interface FieldProblem {
  field: string;
  /** English, for the admin API, the CLI and logs. */
  message: string;
  /** The same for a person, translated where a page shows it (src/i18n); `message` when absent. */
  text?: Text;
  /** A stable code where the problem has one (password.too_short, …). */
  code?: string;
  params?: Record<string, number>;
}

export class ValidationError extends Error {
  constructor(readonly errors: FieldProblem[]) {
    super(errors.map((e) => `${e.field}: ${e.message}`).join('; '));
    this.name = 'ValidationError';
  }
}

export class NotFoundError extends Error {
  constructor(what: string) {
    super(`${what} not found`);
    this.name = 'NotFoundError';
  }
}

/**
 * ConflictError and ForbiddenError carry, like a FieldProblem, the English `message` (the admin API's
 * problem detail, the CLI, logs) and, where a page may show the refusal, `text`: the same for a person,
 * translated where it is shown (the console).
 */
export class ConflictError extends Error {
  constructor(
    message: string,
    readonly text?: Text,
  ) {
    super(message);
    this.name = 'ConflictError';
  }
}

/** The request is well-formed but the world is not as it needs to be (a DNS record is missing, say). */
export class UnprocessableError extends Error {
  constructor(
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'UnprocessableError';
  }
}

/** The caller may not do this (services/authorization.ts). `text`: see ConflictError. */
export class ForbiddenError extends Error {
  constructor(
    message: string,
    readonly text?: Text,
  ) {
    super(message);
    this.name = 'ForbiddenError';
  }
}

/**
 * A stored security policy cannot be read (corrupt, or from a newer schema). Fail closed: whatever it
 * governs is refused (503) until it is replaced; it never falls back to the defaults.
 */
export class PolicyUnreadableError extends Error {
  constructor(
    /** An organization id, or 'baseline'. */
    readonly subject: string,
    readonly reason: string,
  ) {
    super(`the stored security policy of ${subject === 'baseline' ? 'the baseline' : `organization ${subject}`} cannot be read: ${reason}`);
    this.name = 'PolicyUnreadableError';
  }
}

/**
 * The English of a Text, for the API and the CLI: its values put in (dates as ISO 8601, which the API
 * has always answered). Pages translate the Text itself.
 */
export function englishOf(text: Text): string {
  if (typeof text === 'string') return text;
  return text.text.replace(/\{\{\s*(\w+)\s*\}\}/g, (whole, name: string) => {
    const v = text.values?.[name];
    return v === undefined ? whole : v instanceof Date ? v.toISOString() : String(v);
  });
}

/** A problem with a field for a page, from a Text: English in `message`, the Text itself in `text` (not for the admin API). */
export const problemOf = (field: string, text: Text, extra: { code?: string; params?: Record<string, number> } = {}): FieldProblem => ({
  field,
  message: englishOf(text),
  text,
  ...(extra.code ? { code: extra.code } : {}),
  ...(extra.params ? { params: extra.params } : {}),
});
