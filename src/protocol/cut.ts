/**
 * Cutting over-long text to a limit. Limits count UTF-16 code units (what `String.length` and
 * the schemas' `maxLength` count), and a cut never leaves half a character: not half of a
 * surrogate pair, and where `Intl.Segmenter` is there (Node, modern browsers) not half of a
 * grapheme (an emoji with its modifier, a flag, a letter with its accent). The hub cuts fields
 * of events it receives; the tracker cuts its job names and error texts before sending.
 *
 * This file imports nothing: the tracker and the hub share it.
 */

/** Graphemes are looked for this far before the cut point; a longer grapheme is cut between code points. */
const WINDOW = 32

let segmenter: Intl.Segmenter | null | undefined

function graphemes(): Intl.Segmenter | null {
  if (segmenter === undefined) {
    segmenter = typeof Intl === 'object' && typeof Intl.Segmenter === 'function' ? new Intl.Segmenter(undefined, { granularity: 'grapheme' }) : null
  }
  return segmenter
}

function isHigh(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff
}

/**
 * `s` cut to at most `max` code units at a character boundary (a prefix of `s`); `s` itself when
 * it fits.
 * @example cutText('ab😀', 3) // 'ab': the emoji's two code units do not both fit
 */
export function cutText(s: string, max: number): string {
  if (s.length <= max) return s
  if (max <= 0) return ''
  let end = isHigh(s.charCodeAt(max - 1)) ? max - 1 : max
  const a = s.charCodeAt(end - 1)
  const b = s.charCodeAt(end)
  // below U+0300 nothing joins a grapheme except CR LF: the common (Latin) case needs no segmenter
  if (a < 0x300 && b < 0x300 && !(a === 13 && b === 10)) return s.slice(0, end)
  const seg = graphemes()
  if (seg !== null && end > 0) {
    // the start of the grapheme that holds the first unit past the cut, looked for in a window
    const from = Math.max(0, end - WINDOW)
    const text = s.slice(from, Math.min(s.length, end + WINDOW))
    const g = seg.segment(text).containing(end - from)
    if (g !== undefined) {
      // a grapheme at the window's start may have begun before it, and one that fills the window
      // is a pile of combining marks: for those the code point boundary is the best there is
      if (g.index > 0) end = from + g.index
      else if (from === 0 && (g.segment.length < text.length || text.length === s.length)) end = 0
    }
  }
  return s.slice(0, end)
}

/**
 * A URL cut as `cutText` does, without leaving a broken percent escape at its end: a partial
 * escape (`…%E2%8`) is dropped, and so are the escapes of a UTF-8 character whose last bytes did not
 * fit (`…%D8` of `%D8%B3`), so the cut URL decodes as the whole one would.
 */
export function cutUrl(s: string, max: number): string {
  let cut = cutText(s, max)
  if (cut.length === s.length) return cut
  const p = cut.lastIndexOf('%')
  if (p >= 0 && p >= cut.length - 2) cut = cut.slice(0, p)
  // walk back over trailing continuation bytes (%80-%BF) to the lead byte that starts them
  let end = cut.length
  let continuation = 0
  while (end >= 3 && cut.charCodeAt(end - 3) === 37 /* % */) {
    const byte = parseInt(cut.slice(end - 2, end), 16)
    if (!(byte >= 0)) return cut // not an escape after all
    if (byte >= 0x80 && byte <= 0xbf) {
      continuation++
      end -= 3
      continue
    }
    const need = byte >= 0xf0 ? 3 : byte >= 0xe0 ? 2 : byte >= 0xc0 ? 1 : 0
    return need > continuation ? cut.slice(0, end - 3) : cut
  }
  return cut
}
