/**
 * Finds the keys a JSON object lists more than once at its top level. `JSON.parse` keeps the last
 * of them without a word, so a nodes.json listing one path twice would register whichever came
 * last; `--register` refuses that, and so must the file.
 *
 * Why a scanner of our own rather than a library: the text has already been accepted by
 * `JSON.parse`, so only strings and nesting need following (about twenty lines, linear in the
 * text's length, no allocation but the top-level keys); the JSON parsers that report duplicates
 * (jsonc-parser, json-source-map and the like) are larger than this whole module and tolerate
 * comments or trailing commas that nodes.json must not have. Each key is decoded with
 * `JSON.parse`, so `"/a"` and `"\u002fa"` are the same key, as they are to the parser.
 *
 * @module
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;

/**
 * The top-level keys listed more than once in `text`, each once, in the order of their second
 * listing. `text` must be valid JSON (checked by `JSON.parse` first); anything else gives `[]`.
 *
 * @example
 * ```ts
 * duplicateTopLevelKeys('{"/a": "x", "/b": {"/a": 1}, "/a": "y"}'); // ["/a"]
 * ```
 */
export function duplicateTopLevelKeys(text: string): string[] {
  const seen = new Set<string>();
  const duplicates = new Set<string>();
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === QUOTE) {
      const start = i;
      for (i++; text.charCodeAt(i) !== QUOTE; i++) {
        if (text.charCodeAt(i) === BACKSLASH) i++;
        if (i >= text.length) return [];
      }
      if (depth === 1 && isFollowedByColon(text, i + 1)) {
        const key = JSON.parse(text.slice(start, i + 1)) as string;
        if (seen.has(key)) duplicates.add(key);
        else seen.add(key);
      }
    } else if (code === 0x7b || code === 0x5b) { // { [
      depth++;
    } else if (code === 0x7d || code === 0x5d) { // } ]
      depth--;
    }
  }
  return [...duplicates];
}

/** Whether the next character after white space is `:` (the string was a key). */
function isFollowedByColon(text: string, from: number): boolean {
  for (let i = from; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === COLON) return true;
    if (code !== 0x20 && code !== 0x09 && code !== 0x0a && code !== 0x0d) return false;
  }
  return false;
}
