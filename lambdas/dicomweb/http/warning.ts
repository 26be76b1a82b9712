// The Warning header (RFC 7234 5.5, as PS3.18 8.4.4 uses it): `299 - "text"`. Its text often quotes the
// data (a UID, a character set term), and a header may carry only visible ASCII: every other character is
// written as a \uXXXX escape, so data never reaches a header raw and the client still reads what was there.
const MAX_WARNINGS = 20;
const MAX_TEXT = 1000;

function quotedText(message: string): string {
  let out = '';
  for (const ch of message.slice(0, MAX_TEXT)) {
    const code = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (code >= 0x20 && code <= 0x7e) out += ch;
    else out += `\\\\u${code.toString(16).padStart(4, '0')}`;
  }
  return `"${out}${message.length > MAX_TEXT ? '...' : ''}"`;
}

/** One Warning header value for the messages (the first 20), each a 299 (miscellaneous persistent) warning. */
export function warningHeader(messages: string[]): string {
  return messages
    .slice(0, MAX_WARNINGS)
    .map((m) => `299 - ${quotedText(m)}`)
    .join(', ');
}
