/** CSV export of what a view shows (RFC 4180 quoting; a leading = + - @ is defused for spreadsheets). */
export type Cell = string | number | null

function cell(v: Cell): string {
  if (v === null) return ''
  let s = String(v)
  if (typeof v === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
}

export function toCsv(sections: { title: string; header: string[]; rows: Cell[][] }[]): string {
  const out: string[] = []
  for (const s of sections) {
    if (out.length > 0) out.push('')
    out.push(cell(s.title))
    out.push(s.header.map(cell).join(','))
    for (const r of s.rows) out.push(r.map(cell).join(','))
  }
  return out.join('\r\n') + '\r\n'
}

export function download(name: string, text: string): void {
  const url = URL.createObjectURL(new Blob([text], { type: 'text/csv;charset=utf-8' }))
  const a = document.createElement('a')
  a.href = url
  a.download = name
  document.body.append(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(url), 10_000)
}
