/** The token prompt, shown when the hub answers 401: a modal form; the token goes to storage, never to the URL bar. */
import { saveToken, forgetToken } from './api'
import { h, setText } from './dom'

let open: Promise<void> | null = null

export function promptToken(): Promise<void> {
  if (open !== null) return open
  open = new Promise<void>((resolve) => {
    forgetToken()
    const input = h('input', { type: 'password', id: 'token', name: 'token', autocomplete: 'current-password', required: true, minlength: 1, spellcheck: 'false' })
    const remember = h('input', { type: 'checkbox', id: 'remember' })
    const note = h('p', { class: 'muted', id: 'token-note' }, 'This hub needs its access token. `livestats serve` printed it when it first started.')
    const err = h('p', { class: 'bad', role: 'alert' })
    const form = h('form', { method: 'dialog', class: 'token-form' },
      h('h2', { id: 'token-h' }, 'Access token'), note,
      h('label', { for: 'token' }, 'Token'), input,
      h('label', { class: 'check', for: 'remember' }, remember, ' Remember on this device'),
      err,
      h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'btn primary' }, 'Open dashboard')))
    const dialog = h('dialog', { class: 'token-dialog', 'aria-labelledby': 'token-h', 'aria-describedby': 'token-note' }, form)
    dialog.addEventListener('cancel', (e) => e.preventDefault())
    form.addEventListener('submit', (e) => {
      e.preventDefault()
      const v = input.value.trim()
      if (v === '') { setText(err, 'Enter the token.'); return }
      saveToken(v, remember.checked)
      dialog.close()
      dialog.remove()
      open = null
      resolve()
    })
    document.body.append(dialog)
    dialog.showModal()
    input.focus()
  })
  return open
}
