import { render, screen } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { describe, expect, it } from 'vitest'
import { I18nProvider } from '../i18n/i18n.tsx'
import { CreatedSecret } from './CreateTokenDialog.tsx'

const created = { token: 'eyJhbGciOiJIUzI1NiJ9.eyJuYW1lIjoiYm9iIn0.c2lnbmF0dXJl', id: 'id-1', name: 'bob', mode: 'api' as const, created_at: '', expires_at: '', enable_conversation_logging: false }

function renderSecret() {
  render(
    <I18nProvider language="en">
      <CreatedSecret created={created} origin="https://gateway.example:8443" />
    </I18nProvider>,
  )
}

const shownCode = () => screen.getByRole('tabpanel').querySelector('pre')!.textContent

describe('the new token', () => {
  it('shows the secret once with a copy button and a warning', () => {
    renderSecret()
    expect(screen.getByTestId('token-secret').textContent).toBe(created.token)
    expect(screen.getByRole('button', { name: 'Copy Token' })).toBeTruthy()
    expect(screen.getByText(/only time it is shown/)).toBeTruthy()
  })

  it('gives set-ups for the OpenAI SDK, the Anthropic SDK and Claude Code, pointed at this gateway', async () => {
    renderSecret()
    expect(screen.getAllByRole('tab').map((t) => t.textContent)).toEqual(['OpenAI SDK', 'Anthropic SDK', 'Claude Code'])
    expect(shownCode()).toContain("baseURL: 'https://gateway.example:8443/v1'")
    expect(shownCode()).toContain(`apiKey: '${created.token}'`)

    await userEvent.click(screen.getByRole('tab', { name: 'Anthropic SDK' }))
    expect(shownCode()).toContain("baseURL: 'https://gateway.example:8443',")
    expect(shownCode()).toContain("import Anthropic from '@anthropic-ai/sdk'")

    // arrow keys move between the tabs as well
    await userEvent.keyboard('{ArrowRight}')
    expect(screen.getByRole('tab', { name: 'Claude Code' }).getAttribute('aria-selected')).toBe('true')
    expect(shownCode()).toBe(`export ANTHROPIC_BASE_URL=https://gateway.example:8443\nexport ANTHROPIC_AUTH_TOKEN=${created.token}\nclaude`)
  })
})
