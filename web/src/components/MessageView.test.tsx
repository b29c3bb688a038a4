import { render, screen, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { describe, expect, it } from 'vitest'
import { I18nProvider } from '../i18n/i18n.tsx'
import { readConversation } from '../lib/conversation.ts'
import { Messages } from '../pages/ConversationDetail.tsx'

const conversation = readConversation({
  system_prompt: '',
  messages_json: JSON.stringify([
    { role: 'user', content: 'Write a loop' },
    { role: 'assistant', content: [{ type: 'thinking', thinking: 'A for loop is simplest.' }, { type: 'tool_use', id: 'tu_9', name: 'run_code', input: { code: 'x', timeout: 5 } }] },
    { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'tu_9', content: 'exit 0' }] },
  ]),
  completion: 'Here:\n```python\nfor i in range(3):\n    print(i)\n```',
  tool_calls: '[]',
})

const renderMessages = (messages = conversation.messages) =>
  render(
    <I18nProvider language="en">
      <Messages messages={messages} />
    </I18nProvider>,
  )

describe('conversation messages', () => {
  it('labels each message by role, and the recorded answer as the answer', () => {
    renderMessages()
    expect(screen.getAllByRole('article').map((a) => a.getAttribute('aria-label'))).toEqual(['User', 'Assistant', 'User', 'Answer'])
  })

  it('shows a tool call as a numbered card with its input pretty-printed, and its result', () => {
    renderMessages()
    const card = screen.getByRole('region', { name: 'Tool call 1: run_code' })
    expect(within(card).getByText('tu_9')).toBeTruthy()
    expect(card.querySelector('pre')!.textContent).toBe('{\n  "code": "x",\n  "timeout": 5\n}')
    expect(within(screen.getByRole('region', { name: 'Tool result for tu_9' })).getByText('exit 0')).toBeTruthy()
  })

  it('keeps thinking collapsed until asked', async () => {
    renderMessages()
    const toggle = screen.getByRole('button', { name: 'Thinking' })
    expect(toggle.getAttribute('aria-expanded')).toBe('false')
    expect(screen.queryByText('A for loop is simplest.')).toBeNull()
    await userEvent.click(toggle)
    expect(toggle.getAttribute('aria-expanded')).toBe('true')
    expect(screen.getByText('A for loop is simplest.')).toBeTruthy()
  })

  it('shows fenced code as a code block with its language and a copy button', async () => {
    renderMessages()
    const answer = screen.getByRole('article', { name: 'Answer' })
    const code = await within(answer).findByLabelText('python', { selector: 'pre' })
    expect(code.textContent).toBe('for i in range(3):\n    print(i)')
    expect(within(answer).getByRole('button', { name: 'Copy python' })).toBeTruthy()
    expect(within(answer).getByText('Here:')).toBeTruthy()
  })

  it('puts every Copy button on its block’s header line', async () => {
    renderMessages(readConversation({
      system_prompt: '',
      messages_json: JSON.stringify([
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'tu_1', content: 'exit 0' }, { type: 'text', text: 'and now?' }] },
        { role: 'assistant', content: [{ type: 'text', text: 'Done.' }, { type: 'tool_use', id: 'tu_2', name: 'ls', input: {} }] },
      ]),
      completion: 'Here:\n```python\nprint(1)\n```',
      tool_calls: '[]',
    }).messages)
    const answer = screen.getByRole('article', { name: 'Answer' })
    await within(answer).findByLabelText('python', { selector: 'pre' })
    const copies = screen.getAllByRole('button', { name: /^Copy/ })
    expect(copies.map((b) => b.getAttribute('aria-label'))).toEqual(['Copy Tool result', 'Copy text', 'Copy text', 'Copy ls input', 'Copy text', 'Copy python'])
    for (const button of copies) expect(button.closest('.message-head, .block-head, .code-head')).not.toBeNull()
  })

  it('renders only part of a 500-message conversation (virtualized)', () => {
    const many = Array.from({ length: 500 }, (_, i) => ({ role: i % 2 ? ('assistant' as const) : ('user' as const), blocks: [{ kind: 'text' as const, text: `message ${i}` }] }))
    renderMessages(many)
    expect(screen.getByRole('region', { name: '500 messages' })).toBeTruthy()
    expect(screen.queryAllByRole('article').length).toBeLessThan(50)
  })
})
