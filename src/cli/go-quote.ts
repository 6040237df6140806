/** Characters Go's strconv.IsPrint accepts: letters, marks, numbers, punctuation, symbols, and ASCII space. */
const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;

const SHORT_ESCAPES: Readonly<Record<string, string>> = {
  '\x07': '\\a',
  '\b': '\\b',
  '\f': '\\f',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\v': '\\v',
  '"': '\\"',
  '\\': '\\\\',
};

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}

/**
 * `text` in double quotes as Go's strconv.Quote writes it, which is how docker prints the
 * COMMAND column of `ps`: printable characters as they are (non-ASCII included), `"` and `\`
 * escaped, the usual control escapes (\n, \t, ...), other ASCII controls as \xHH and other
 * non-printable characters as \uHHHH or \UHHHHHHHH. A lone surrogate (which cannot come over
 * gRPC, whose strings are UTF-8) is written as U+FFFD, what UTF-8 encoding would make of it.
 */
export function goQuote(text: string): string {
  let out = '"';
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0;
    const short = SHORT_ESCAPES[char];
    if (short !== undefined) {
      out += short;
    } else if (code >= 0xd800 && code <= 0xdfff) {
      out += '\uFFFD';
    } else if (PRINTABLE.test(char)) {
      out += char;
    } else if (code < 0x80) {
      out += `\\x${hex(code, 2)}`;
    } else if (code < 0x10000) {
      out += `\\u${hex(code, 4)}`;
    } else {
      out += `\\U${hex(code, 8)}`;
    }
  }
  return `${out}"`;
}
