// Fuzzy matching for quick open and the command palette: the query's
// characters must appear in order (case ignored, spaces ignored); matches on
// word starts, runs of consecutive characters and the file name (rather than
// its folders) score higher, as in VS Code's and fzf's pickers.
//
// One pass backwards from the end finds the rightmost place the query fits
// (in a path that is the file name or the deepest folders, which is what
// people type), one pass forwards from there takes the tightest run.
// Linear in the text's length, so filtering 20,000 paths per keystroke stays
// well under a frame's budget.

const SEPARATORS = new Set(["/", "\\", "_", "-", ".", " ", ":"]);

const BONUS_BOUNDARY = 8; // after a separator, or the text's first character
const BONUS_CAMEL = 6; // an upper-case letter after a lower-case one
const BONUS_CONSECUTIVE = 5;
const BONUS_IN_LAST_SEGMENT = 20; // every character in the file name
const BONUS_PREFIX_OF_LAST_SEGMENT = 15;
const BONUS_EXACT_NAME = 30; // "main" for main.py
const GAP_PENALTY = 0.5; // per skipped character, up to MAX_GAP_PENALTY per gap
const MAX_GAP_PENALTY = 5;
const LENGTH_PENALTY = 0.05; // shorter texts first among equals

/** The query as matched: lower-case, without spaces. */
export function normaliseQuery(query) {
  return query.replace(/\s+/g, "").toLowerCase();
}

/**
 * Matches `query` (see normaliseQuery) against `text`: null if its characters
 * do not all appear in order, else { score, positions } (indexes into text).
 */
export function fuzzyMatch(query, text) {
  const needle = normaliseQuery(query);
  if (!needle) return { score: 0, positions: [] };
  if (needle.length > text.length) return null;
  const haystack = text.toLowerCase();

  // Backwards: the rightmost start at which the whole query still fits.
  let wanted = needle.length - 1;
  let start = -1;
  for (let index = haystack.length - 1; index >= 0; index -= 1) {
    if (haystack[index] === needle[wanted]) {
      wanted -= 1;
      if (wanted < 0) {
        start = index;
        break;
      }
    }
  }
  if (start < 0) return null;

  // Forwards from there: the earliest (tightest) positions.
  const positions = [];
  for (let index = start; index < haystack.length && positions.length < needle.length; index += 1) {
    if (haystack[index] === needle[positions.length]) positions.push(index);
  }
  return { score: score(text, positions), positions };
}

function score(text, positions) {
  const lastSegmentStart = text.lastIndexOf("/") + 1;
  let total = 0;
  let previous = -2;
  for (const position of positions) {
    total += 1;
    const before = position > 0 ? text[position - 1] : "";
    if (position === 0 || SEPARATORS.has(before)) total += BONUS_BOUNDARY;
    else if (before === before.toLowerCase() && text[position] !== text[position].toLowerCase()) total += BONUS_CAMEL;
    if (position === previous + 1) total += BONUS_CONSECUTIVE;
    else if (previous >= 0) total -= Math.min(MAX_GAP_PENALTY, (position - previous - 1) * GAP_PENALTY);
    previous = position;
  }
  if (positions.length && positions[0] >= lastSegmentStart) {
    total += BONUS_IN_LAST_SEGMENT;
    const name = text.slice(lastSegmentStart).toLowerCase();
    const matched = positions.map((position) => text[position].toLowerCase()).join("");
    if (name.startsWith(matched)) total += BONUS_PREFIX_OF_LAST_SEGMENT;
    const stem = name.includes(".") ? name.slice(0, name.lastIndexOf(".")) : name;
    if (stem === matched || name === matched) total += BONUS_EXACT_NAME;
  }
  return total - text.length * LENGTH_PENALTY;
}

/**
 * Filters and ranks `items` by `query`: [{ item, score, positions }], best
 * first; `textOf(item)` is what is matched. Ties keep the items' order.
 */
export function fuzzyFilter(items, query, textOf) {
  const results = [];
  items.forEach((item, index) => {
    const match = fuzzyMatch(query, textOf(item));
    if (match) results.push({ item, index, score: match.score, positions: match.positions });
  });
  if (normaliseQuery(query)) results.sort((a, b) => b.score - a.score || a.index - b.index);
  return results;
}
