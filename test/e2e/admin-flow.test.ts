import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { ADMIN_KEY, startTestGateway, type TestGateway } from '../support/gateway.ts'
import { ensureWebBuilt, launchBrowser, newAppContext, noChromium, watchPageErrors } from '../support/browser.ts'
import { adminText, anthropicFor, chooseFilter, dialog, goTo, jwtsIn, navLink, openSignedIn, settled, signIn, signInField } from './app.ts'
import { MODEL, SEEN, flushed, sendBackgroundTraffic, sendFlowTraffic } from './traffic.ts'

// The admin's day in the app, in real headless Chromium against a real gateway (embedded ClickHouse, mock
// Anthropic upstream): sign in, create a token, opt it into conversation logging, send traffic with the real
// SDKs, find and read and delete a conversation, filter and export the request log, revoke, sign out. The
// tests run in order and build on each other, like the user does.

let t: TestGateway
let browser: Browser
let context: BrowserContext
let page: Page
let pageErrors: string[] = []
let alice: { id: string; token: string }
let bob: { id: string; token: string }

const main = () => page.getByRole('main')
/** expect.poll with the patience of a loaded 2-core machine (its default gives up after 1 s). */
const poll = <T>(read: () => T | Promise<T>) => expect.poll(read, { timeout: 10_000 })
const tokenRow = (name: string) => main().getByRole('row').filter({ hasText: name })

/** Types into the Search box and waits for the (debounced) search to reach the URL and its answer the page. */
async function search(q: string): Promise<void> {
  await main().getByLabel('Search', { exact: true }).fill(q)
  await page.waitForURL((url) => url.searchParams.get('q') === q)
  await settled(page)
}

describe.skipIf(!!noChromium)(`the web app, end to end${noChromium ? ` (${noChromium})` : ''}`, () => {
  beforeAll(async () => {
    await ensureWebBuilt()
    browser = await launchBrowser()
  }, 240_000)
  afterAll(async () => {
    await browser?.close()
  })

  describe('an admin’s day', () => {
    beforeAll(async () => {
      t = await startTestGateway({ logging: { flush_interval: '100ms' } })
      context = await newAppContext(browser, t.url)
      page = await context.newPage()
      pageErrors = watchPageErrors(page)
    }, 120_000)
    afterAll(async () => {
      await context?.close()
      await t?.close()
    })

    it('refuses a wrong admin key, signs in with the right one, and keeps the key nowhere in the browser', async () => {
      await page.goto('/ui/')
      expect(await signInField(page).getAttribute('type')).toBe('password')
      await signIn(page, 'not-the-admin-key-at-all')
      await page.getByText(/wrong admin key/i).waitFor()
      expect(await navLink(page, 'Dashboard').count()).toBe(0)

      await signIn(page)
      await navLink(page, 'Dashboard').waitFor()
      const cookie = (await context.cookies()).find((c) => c.name === 'ccproxy_session')
      expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' })
      expect(cookie!.expires).toBeGreaterThan(Date.now() / 1000) // a session with an expiry, not for ever
      const stored = await page.evaluate(() => JSON.stringify([{ ...(globalThis as any).localStorage }, { ...(globalThis as any).sessionStorage }]))
      expect(stored).not.toContain(ADMIN_KEY)
    })

    it('creates a token and shows its secret exactly once, with a copy button and snippets', async () => {
      await goTo(page, 'Tokens')
      await main().getByRole('button', { name: 'Create token' }).click()
      const form = dialog(page)
      await form.getByLabel('Name', { exact: true }).fill('e2e-alice')
      await form.getByRole('button', { name: 'Create token', exact: true }).click()

      await poll(async () => jwtsIn(await dialog(page).innerText()).length).toBeGreaterThan(0)
      const shown = dialog(page)
      const secret = jwtsIn(await shown.innerText())[0]!
      const info = await fetch(`${t.url}/api/token/info`, { headers: { authorization: `Bearer ${secret}` } })
      expect(info.status).toBe(200)
      const entry: any = await info.json()
      expect(entry.name).toBe('e2e-alice')
      alice = { id: entry.id, token: secret }

      // snippets for the three clients, Claude Code's with the two variables it reads
      const text = await shown.innerText()
      for (const client of ['OpenAI SDK', 'Anthropic SDK', 'Claude Code']) expect(text).toContain(client)
      expect(await shown.getByTestId('token-secret').innerText()).toBe(secret)
      await shown.getByRole('tab', { name: 'Claude Code' }).click()
      const snippets = await shown.innerText()
      expect(snippets).toContain('ANTHROPIC_BASE_URL')
      expect(snippets).toContain('ANTHROPIC_AUTH_TOKEN')
      expect(snippets).toContain(t.url)

      await shown.getByRole('button', { name: 'Copy Token' }).click()
      expect(await page.evaluate(() => (globalThis as any).navigator.clipboard.readText())).toBe(secret)

      await shown.getByRole('button', { name: 'I have copied it' }).click()
      await poll(() => dialog(page).count()).toBe(0)
      await tokenRow('e2e-alice').waitFor()
      expect(await page.content()).not.toContain(secret)
      expect(await tokenRow('e2e-alice').innerText()).toContain('Never') // last used

      await page.reload()
      await tokenRow('e2e-alice').waitFor()
      await settled(page)
      expect(await page.content()).not.toContain(secret)
      const stored = await page.evaluate(() => JSON.stringify([{ ...(globalThis as any).localStorage }, { ...(globalThis as any).sessionStorage }]))
      expect(stored).not.toContain(secret)
    })

    it('switches Conversation logging on for the token, and says what is stored', async () => {
      const toggle = tokenRow('e2e-alice').getByRole('switch', { name: /Conversation logging/ })
      expect(await toggle.getAttribute('aria-checked')).toBe('false')
      expect(await main().innerText()).toMatch(/system prompt, the messages/i) // the plain statement
      await toggle.click()
      await poll(() => toggle.getAttribute('aria-checked')).toBe('true')
      await poll(async () => JSON.parse(await adminText(t, '/api/token/list')).tokens.find((x: any) => x.id === alice.id).enable_conversation_logging)
        .toBe(true)

      await page.reload()
      await settled(page)
      expect(await tokenRow('e2e-alice').getByRole('switch', { name: /Conversation logging/ }).getAttribute('aria-checked')).toBe('true')
    })

    it('records traffic sent with the real SDKs (English, Chinese, system prompt, tool call, a failure)', async () => {
      await sendFlowTraffic(t, alice.token)
      bob = await t.mintToken({ name: 'e2e-bob', mode: 'api' })
      await sendBackgroundTraffic(t, bob.token)
      await flushed(t)
      const stored = JSON.parse(await adminText(t, `/api/conversations?token_id=${alice.id}`))
      expect(stored.total).toBe(5) // the refused request's content is kept too
    })

    it('finds a conversation by an English word and by a Chinese phrase through the Search box', async () => {
      await goTo(page, 'Conversations')
      const all = JSON.parse(await adminText(t, '/api/conversations')).conversations as Array<{ id: string; prompt_preview: string }>
      for (const q of [SEEN.englishWord, SEEN.chinesePhrase]) {
        await search(q)
        // the list is the server's answer for that query, and nothing else
        const found = JSON.parse(await adminText(t, `/api/conversations?q=${encodeURIComponent(q)}`)).conversations as typeof all
        expect(found).toHaveLength(1)
        const listed = await main().innerText()
        for (const c of all) {
          const preview = c.prompt_preview.slice(0, 20)
          if (found.some((f) => f.id === c.id)) expect(listed, q).toContain(preview)
          else expect(listed, q).not.toContain(preview)
        }
      }
      expect(await main().innerText()).toContain(SEEN.chinesePrompt.slice(0, 10))

      // the search is in the URL: a reload shows the same answer
      expect(decodeURIComponent(new URL(page.url()).search)).toContain(SEEN.chinesePhrase)
      await page.reload()
      await settled(page)
      expect(await main().innerText()).toContain(SEEN.chinesePrompt.slice(0, 10))
      expect(await main().innerText()).not.toContain(SEEN.englishFollowUp)
    })

    let conversationId = ''
    it('opens the conversation: system prompt, role-labelled messages, tool call and tool result cards', async () => {
      await search(SEEN.englishWord)
      await main().getByRole('row').filter({ hasText: SEEN.englishFollowUp.slice(0, 30) }).getByRole('link').first().click()
      await page.waitForURL(/\/ui\/conversations\/[^/?]+/)
      await settled(page)
      conversationId = new URL(page.url()).pathname.split('/').pop()!

      expect(await main().getByRole('region', { name: 'System prompt' }).innerText()).toContain(SEEN.system)
      // role-labelled messages: the two user turns, the assistant's tool call between them, the answer
      const users = main().getByRole('article', { name: 'User' })
      expect(await users.count()).toBe(2)
      expect(await users.nth(0).innerText()).toContain(SEEN.englishPrompt)
      expect(await users.nth(1).innerText()).toContain(SEEN.englishFollowUp)
      expect(await main().getByRole('article', { name: 'Assistant' }).count()).toBe(1)
      // tool calls and the tool result as cards, the arguments as pretty-printed JSON
      const weather = main().getByRole('region', { name: new RegExp(`Tool call \\d+: ${SEEN.toolName}`) })
      expect(await weather.innerText()).toContain('"city": "Oslo"')
      expect(await main().getByRole('region', { name: /Tool result/ }).innerText()).toContain(SEEN.toolResult)
      const answerCall = main().getByRole('region', { name: new RegExp(`Tool call \\d+: ${SEEN.answerTool}`) })
      expect(await answerCall.innerText()).toMatch(/"species": "Alcedo atthis",\n\s+"fields": \[/)
      // the metadata strip
      const text = await main().innerText()
      for (const field of [MODEL, 'e2e-alice', 'TTFT', 'Anthropic/JS']) expect(text).toContain(field)
    })

    it('shows the same conversation as JSON, and exports it', async () => {
      const stored = JSON.parse(await adminText(t, `/api/conversations/${conversationId}`))
      await main().getByRole('button', { name: 'JSON', exact: true }).click()
      await poll(() => main().getByRole('button', { name: 'JSON', exact: true }).getAttribute('aria-pressed')).toBe('true')
      const json = await main().locator('code').filter({ hasText: '"messages' }).first().innerText()
      expect(json).toContain(SEEN.toolResult)
      expect(json).toContain(conversationId)
      const [download] = await Promise.all([page.waitForEvent('download'), main().getByRole('button', { name: 'Export JSON' }).click()])
      const exported = JSON.parse(readFileSync((await download.path())!, 'utf8'))
      // the stored conversation, its JSON text fields parsed so the file reads as one document
      expect(exported).toMatchObject({ id: stored.id, system_prompt: SEEN.system, messages_json: JSON.parse(stored.messages_json) })
      await main().getByRole('button', { name: 'Formatted', exact: true }).click()
      await main().getByRole('article', { name: 'User' }).first().waitFor()
    })

    it('collapses thinking blocks and highlights code blocks', async () => {
      await goTo(page, 'Conversations')
      await search('times')
      await main().getByRole('row').filter({ hasText: SEEN.thinkingFollowUp }).getByRole('link').first().click()
      await page.waitForURL(/\/ui\/conversations\/[^/?]+/)
      await settled(page)
      const thinking = main().getByRole('button', { name: /Thinking/, expanded: false })
      expect(await main().innerText()).not.toContain(SEEN.thinking)
      await thinking.click()
      await main().getByText(SEEN.thinking).waitFor()
      expect(await main().getByRole('button', { name: /Thinking/ }).first().getAttribute('aria-expanded')).toBe('true')

      await goTo(page, 'Conversations')
      await search('Hamlet')
      await main().getByRole('row').filter({ hasText: SEEN.hamletPrompt }).getByRole('link').first().click()
      await page.waitForURL(/\/ui\/conversations\/[^/?]+/)
      await settled(page)
      const code = main().locator('code').filter({ hasText: 'to be or not to be' }).first()
      await code.waitFor()
      // highlighted: the string is a token of its own, coloured differently from the call around it
      const colours = await code.evaluate((el) => {
        const g = globalThis as any
        return [...el.querySelectorAll('span')].map((s: any) => g.getComputedStyle(s).color)
      })
      expect(new Set(colours).size).toBeGreaterThan(1)
      expect(await main().innerText()).toContain('python')
    })

    it('opens a 500-message conversation with only what is on screen in the page', async () => {
      // 499 turns sent back by the client (the last one the user's) and the answer: 500 messages
      const history = Array.from({ length: 499 }, (_, i) => ({
        role: i % 2 === 0 ? ('user' as const) : ('assistant' as const),
        content: `Turn ${i + 1}: ${i % 2 === 0 ? 'a question about river birds' : 'an answer about river birds'} number ${i + 1}.`,
      }))
      await anthropicFor(t, alice.token).messages.create({ model: MODEL, max_tokens: 50, messages: history })
      await flushed(t)
      const [long] = JSON.parse(await adminText(t, `/api/conversations?token_id=${alice.id}&limit=1`)).conversations
      expect(long.prompt_preview).toContain('Turn 499')

      await page.goto(`/ui/conversations/${long.id}`)
      await settled(page)
      const list = main().getByRole('region', { name: /500 messages/ })
      await list.getByText('Turn 1: a question').waitFor()
      const rendered = await list.getByRole('article').count()
      expect(rendered).toBeGreaterThan(0)
      expect(rendered).toBeLessThan(60)
      // the list scrolls (by keyboard too: it takes focus) and renders the end when it is reached
      await list.focus()
      await page.keyboard.press('End')
      await list.getByRole('article', { name: 'Answer' }).waitFor() // the last of the 500, after the user's turn 499
      expect(await list.getByRole('article', { name: 'User' }).last().innerText()).toContain('Turn 499: a question')
      expect(await list.getByRole('article').count()).toBeLessThan(60)
    })

    it('deletes the conversation behind a confirm dialog; the request log row stays', async () => {
      const detail = JSON.parse(await adminText(t, `/api/conversations/${conversationId}`))
      await page.goto(`/ui/conversations/${conversationId}`)
      await settled(page)
      await main().getByRole('button', { name: 'Delete', exact: true }).click()
      const confirm = page.getByRole('alertdialog')
      await confirm.waitFor()
      await confirm.getByRole('button', { name: 'Delete', exact: true }).click()
      await poll(() => page.getByRole('alertdialog').count()).toBe(0)

      const gone = await fetch(`${t.url}/api/conversations/${conversationId}`, { headers: { 'x-admin-key': ADMIN_KEY } })
      expect(gone.status).toBe(404)
      expect(JSON.parse(await adminText(t, `/api/logs/requests/${detail.request_log_id}`)).id).toBe(detail.request_log_id)

      await page.goto(`/ui/conversations?q=${SEEN.englishWord}`)
      await settled(page)
      expect(await main().innerText()).not.toContain(SEEN.englishFollowUp.slice(0, 30))
    })

    it('filters the request log by token and status, and a reload shows the same view', async () => {
      await goTo(page, 'Request logs')
      await chooseFilter(page, 'Token', 'e2e-alice')
      await chooseFilter(page, 'Status', 'Failed')
      await settled(page)
      const expected = JSON.parse(await adminText(t, `/api/logs/requests?token_id=${alice.id}&success=false`))
      expect(expected.total).toBe(1)
      const rows = main().getByRole('table').locator('tbody tr')
      await poll(() => rows.count()).toBe(expected.total)
      expect(await rows.first().innerText()).toContain('400')

      const filteredUrl = page.url()
      expect(filteredUrl).toContain(alice.id)
      const before = await main().getByRole('table').innerText()
      await page.reload()
      await settled(page)
      expect(page.url()).toBe(filteredUrl)
      expect(await main().getByRole('table').innerText()).toBe(before)
      expect(await main().getByLabel('Status', { exact: true }).first().inputValue()).not.toBe('')
    })

    it('exports the filtered set as CSV and JSON Lines, the same rows as the admin API gives for those filters', async () => {
      for (const [format, label] of [['csv', 'CSV'], ['jsonl', 'JSON Lines']] as const) {
        await chooseFilter(page, 'Export format', label)
        const [download] = await Promise.all([page.waitForEvent('download'), main().getByRole('button', { name: 'Export', exact: true }).click()])
        const got = readFileSync((await download.path())!, 'utf8')
        const want = await adminText(t, `/api/logs/requests/export?format=${format}&token_id=${alice.id}&success=false`)
        expect(download.suggestedFilename()).toMatch(new RegExp(`\\.${format}$`))
        expect(got.trim().split('\n').length).toBe(format === 'csv' ? 2 : 1)
        expect(got).toBe(want)
      }
    })

    it('says when no request matches the filters, and clears them', async () => {
      await page.goto(`/ui/requests?token=${alice.id}&code=429`)
      await settled(page)
      await main().getByText('No requests match these filters.').waitFor()
      await main().getByRole('button', { name: 'Clear filters' }).first().click()
      await settled(page)
      expect(new URL(page.url()).search).toBe('')
      const total = JSON.parse(await adminText(t, '/api/logs/requests?limit=1')).total
      await poll(() => main().getByRole('table').locator('tbody tr').count()).toBe(total)
    })

    it('moves through the request log with j and k, closes the panel with Esc', async () => {
      await page.goto(`/ui/requests?token=${bob.id}`)
      await settled(page)
      const expected = JSON.parse(await adminText(t, `/api/logs/requests?token_id=${bob.id}`)).logs.map((l: any) => l.id)
      const rows = main().getByRole('table').locator('tbody tr')
      await poll(() => rows.count()).toBe(expected.length)

      const panel = page.getByRole('complementary').filter({ hasText: 'Request details' })
      await rows.first().click()
      await panel.waitFor()
      await poll(() => panel.innerText()).toContain(expected[0])
      await page.keyboard.press('j')
      await poll(() => panel.innerText()).toContain(expected[1])
      await page.keyboard.press('j')
      await poll(() => panel.innerText()).toContain(expected[2])
      await page.keyboard.press('k')
      await poll(() => panel.innerText()).toContain(expected[1])
      await page.keyboard.press('Escape')
      await panel.waitFor({ state: 'hidden' })
    })

    it('opens a request from a link, as the Grafana dashboards do', async () => {
      const target = JSON.parse(await adminText(t, `/api/logs/requests?token_id=${bob.id}`)).logs[2]
      await page.goto(`/ui/requests/${target.id}`)
      const panel = page.getByRole('complementary').filter({ hasText: 'Request details' })
      await panel.waitFor()
      await poll(() => panel.innerText()).toContain(target.id)
      await page.keyboard.press('Escape')
      await panel.waitFor({ state: 'hidden' })
    })

    it('sorts by a column; the sort is in the URL and survives a reload', async () => {
      await page.goto(`/ui/requests?token=${bob.id}`)
      await settled(page)
      const header = main().getByRole('columnheader', { name: /Duration/ })
      await header.getByRole('button').click()
      await settled(page)
      const direction = await header.getAttribute('aria-sort')
      expect(direction).toMatch(/^(ascending|descending)$/)
      const order = direction === 'ascending' ? 'asc' : 'desc'
      expect(new URL(page.url()).searchParams.get('sort')).toBe('duration_ms')
      const want = JSON.parse(await adminText(t, `/api/logs/requests?token_id=${bob.id}&sort=duration_ms&order=${order}`)).logs.map((l: any) => l.id)
      const shown = () => main().getByRole('table').locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-row-id')))
      await poll(shown).toEqual(want)
      await page.reload()
      await settled(page)
      expect(await shown()).toEqual(want)
      expect(await main().getByRole('columnheader', { name: /Duration/ }).getAttribute('aria-sort')).toBe(direction)
    })

    it('reaches the main actions with the keyboard alone', async () => {
      // Tokens: Tab to Create token, Enter opens the dialog, Esc closes it and gives focus back
      await goTo(page, 'Tokens')
      await page.locator('body').focus()
      await tabUntil(page, (el) => el.name === 'Create token')
      await page.keyboard.press('Enter')
      await dialog(page).waitFor()
      await page.keyboard.press('Escape')
      await poll(() => dialog(page).count()).toBe(0)
      expect(await focused(page)).toMatchObject({ name: 'Create token' })

      // Request logs: Tab to a row, Enter opens its details
      await goTo(page, 'Request logs')
      await page.locator('body').focus()
      await tabUntil(page, (el) => el.inRow)
      await page.keyboard.press('Enter')
      await page.getByText('Request details').first().waitFor()
      await page.keyboard.press('Escape')
    })

    it('revokes a token behind a confirm dialog; the SDK is then refused with 401', async () => {
      await goTo(page, 'Tokens')
      await tokenRow('e2e-alice').getByRole('button', { name: 'Revoke' }).click()
      const confirm = page.getByRole('alertdialog')
      await confirm.waitFor()
      expect(await confirm.innerText()).toContain('e2e-alice')
      await confirm.getByRole('button', { name: 'Revoke', exact: true }).click()
      await poll(() => tokenRow('e2e-alice').innerText()).toContain('Revoked')
      await expect(anthropicFor(t, alice.token).messages.create({ model: MODEL, max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] })).rejects.toMatchObject({
        status: 401,
      })
    })

    it('shows an error with Retry when the admin API cannot be reached, and recovers', async () => {
      await page.route('**/api/**', (route) => route.abort('connectionrefused'))
      await navLink(page, 'Usage').click()
      const retry = main().getByRole('button', { name: 'Retry' }).first()
      await retry.waitFor()
      expect(await main().innerText()).toMatch(/cannot be reached/i)
      await page.unroute('**/api/**')
      await retry.click()
      await poll(() => main().getByRole('button', { name: 'Retry' }).count()).toBe(0)
      await main().getByText('e2e-bob').first().waitFor()

      // an admin API that answers with an error: its message, and Retry
      await page.route('**/api/conversations?**', (route) =>
        route.fulfill({ status: 503, contentType: 'application/json', body: JSON.stringify({ error: 'ClickHouse is unavailable' }) }),
      )
      await goTo(page, 'Conversations')
      await main().getByText('ClickHouse is unavailable').waitFor()
      await page.unroute('**/api/conversations?**')
      await main().getByRole('button', { name: 'Retry' }).click()
      await main().getByRole('table').waitFor()
    })

    it('switches to 简体中文 and remembers it after a reload', async () => {
      await chooseFilter(page, 'Language', '简体中文')
      await poll(() => page.getByRole('navigation').first().innerText()).toMatch(/[\u4e00-\u9fff]/)
      expect(await navLink(page, 'Dashboard').count()).toBe(0)
      await page.reload()
      await settled(page)
      expect(await page.getByRole('navigation').first().innerText()).toMatch(/[\u4e00-\u9fff]/)
      // back to English, by the switch's Chinese name
      await chooseFilter(page, '语言', 'English')
      await navLink(page, 'Dashboard').waitFor()
    })

    it('signs out: the session ends on the server and the app shows sign-in', async () => {
      const cookie = (await context.cookies()).find((c) => c.name === 'ccproxy_session')!
      await page.getByRole('button', { name: 'Sign out' }).click()
      await signInField(page).waitFor()
      expect((await page.request.get('/api/session')).status()).toBe(401)
      // the old cookie is dead on the server, not only forgotten by the browser
      const replay = await fetch(`${t.url}/api/session`, { headers: { cookie: `${cookie.name}=${cookie.value}` } })
      expect(replay.status).toBe(401)
    })

    it('ran the whole day without an uncaught error or a Content-Security-Policy refusal in the page', () => {
      expect(pageErrors).toEqual([])
    })
  })

  describe('an expired session', () => {
    const TTL_S = 3
    let short: TestGateway
    let ctx: BrowserContext
    let p: Page
    beforeAll(async () => {
      short = await startTestGateway({ ui: { session_ttl: `${TTL_S}s` } })
      ctx = await newAppContext(browser, short.url)
      p = await ctx.newPage()
    }, 120_000)
    afterAll(async () => {
      await ctx?.close()
      await short?.close()
    })

    it('returns to sign-in, then to the page the user was on', async () => {
      const was = `${short.url}/ui/requests?status=error`
      await openSignedIn(p, was)
      await p.waitForTimeout(TTL_S * 1000 + 300)
      await navLink(p, 'Usage').click()
      await signInField(p).waitFor()
      expect.soft(await p.getByText(/session expired/i).count(), 'the sign-in page says the session expired').toBeGreaterThan(0)
      await signIn(p)
      await navLink(p, 'Dashboard').waitFor()
      expect(new URL(p.url()).pathname).toBe('/ui/usage')

      // a reload after expiry: sign in again lands on the same URL, query included
      await p.goto(was)
      await settled(p)
      await p.waitForTimeout(TTL_S * 1000 + 300)
      await p.reload()
      await signInField(p).waitFor()
      await signIn(p)
      await navLink(p, 'Dashboard').waitFor()
      expect(p.url()).toBe(was)
    })
  })
})

/** What has the keyboard focus: its accessible-ish name, and whether it sits in a table body row. */
function focused(page: Page): Promise<{ name: string; inRow: boolean }> {
  return page.evaluate(() => {
    const el = (globalThis as any).document.activeElement
    const name = (el?.getAttribute?.('aria-label') ?? el?.innerText ?? '').trim()
    return { name, inRow: !!el?.closest?.('tbody tr') }
  })
}

async function tabUntil(page: Page, wanted: (el: { name: string; inRow: boolean }) => boolean, max = 60): Promise<void> {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab')
    if (wanted(await focused(page))) return
  }
  throw new Error(`not reached with ${max} Tab presses; focus is on ${JSON.stringify(await focused(page))}`)
}
