/**
 * Names read from image files (backing file names, snapshot names and ids) are attacker-controlled text:
 * before they reach a terminal or a log, control characters become visible escapes, so NUL, ESC and the
 * C1 controls (U+0080–U+009F, which some terminals treat as CSI and friends) cannot move the cursor, retitle
 * the window or hide text, and bidirectional overrides cannot reorder what the user reads.
 */

// C0 controls, DEL, C1 controls, and the Unicode bidi embedding/override/isolate marks.
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** Escape unprintable characters as \xNN (or \u{NNNN} above U+00FF); printable text is unchanged. */
export function printable(s: string): string {
  return s.replace(UNPRINTABLE, (c) => {
    const cp = c.codePointAt(0) ?? 0;
    return cp <= 0xff ? `\\x${cp.toString(16).padStart(2, "0")}` : `\\u{${cp.toString(16)}}`;
  });
}
