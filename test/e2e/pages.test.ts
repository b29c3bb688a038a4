import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { startTestGateway, type TestGateway } from '../support/gateway.ts'
import { describeFindings, ensureWebBuilt, launchBrowser, newAppContext, noChromium, screenshot, seriousViolations, watchPageErrors, type Theme } from '../support/browser.ts'
import { adminText, goTo, openSignedIn, settled, signInField } from './app.ts'
import { SEEN, flushed, sendBackgroundTraffic, sendFlowTraffic } from './traffic.ts'

// Every page of the app in the light and the dark system theme (switched live, as a user's system does): axe-core
// finds no serious or critical violation, and a 1280×800 screenshot of each goes to docs/screenshots/ (linked from
// the README).

let t: TestGateway
let browser: Browser
let aliceId = ''
let conversationId = ''

const main = (page: Page) => page.getByRole('main')
const THEMES: Theme[] = ['light', 'dark']

async function accessible(page: Page, where: string): Promise<void> {
  const findings = await seriousViolations(page)
  expect(findings, describeFindings(where, findings)).toEqual([])
}

/** Relative luminance of the page background (0 black … 1 white), to tell the themes apart. */
function backgroundLuminance(page: Page): Promise<number> {
  return page.evaluate(() => {
    const g = globalThis as any
    let el = g.document.querySelector('main') ?? g.document.body
    let color = 'rgba(0, 0, 0, 0)'
    while (el) {
      color = g.getComputedStyle(el).backgroundColor
      if (!/rgba\(.*, 0\)$/.test(color) && color !== 'transparent') break
      el = el.parentElement
    }
    if (!el) return 1 // no background anywhere: the browser's white
    // rgb(…) or color(srgb …) / oklch are resolved to rgb by getComputedStyle for backgrounds in Chromium
    const [r, gr, b] = (color.match(/[\d.]+/g) ?? ['255', '255', '255']).slice(0, 3).map(Number).map((c) => {
      const s = c / 255
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4
    }) as [number, number, number]
    return 0.2126 * r + 0.7152 * gr + 0.0722 * b
  })
}

/**
 * Thirteen earlier days of requests (made by ClickHouse from numbers(), a few hundred a day, uneven, 4 % failed),
 * so the charts in the screenshots show a trend; today holds only the SDK traffic above.
 */
async function addHistory(t: TestGateway, tokens: string[]): Promise<void> {
  await t.gateway.services.warehouse.client.command({
    query: `INSERT INTO request_logs (id, request_at, response_at, duration_ms, ttft_ms, token_id, user_name, account_id, mode, endpoint,
              model, response_model, stream, status_code, success, error_type, prompt_tokens, completion_tokens, total_tokens)
            SELECT generateUUIDv4(number), at, at + toIntervalMillisecond(ms), ms, intDiv(ms, 4), {tokens:Array(String)}[1 + number % 3],
              ['alice', 'build-bot', 'old-laptop'][1 + number % 3], 'cfg_main', 'api', 'messages',
              ['claude-sonnet-4-6', 'claude-opus-4-8', 'claude-haiku-4-5-20251001'][1 + intDiv(number, 7) % 3], '', number % 3 = 0,
              if(number % 25 = 0, 429, 200), number % 25 != 0, if(number % 25 = 0, 'rate_limit_error', ''), 300 + number % 4000, 50 + number % 900,
              350 + number % 4000 + number % 900
            FROM (SELECT number, 1 + number % 13 AS day, 400 + (number * 7919) % 9000 AS ms,
                    toStartOfDay(now64(3, 'UTC')) - toIntervalDay(day) + toIntervalSecond((number * 104729) % 86400) AS at
                  FROM numbers(4000))
            WHERE number % (2 + day % 4) = 0`,
    query_params: { tokens },
  })
}

describe.skipIf(!!noChromium)(`every page, both themes${noChromium ? ` (${noChromium})` : ''}`, () => {
  beforeAll(async () => {
    await ensureWebBuilt()
    ;[t, browser] = await Promise.all([startTestGateway({ logging: { flush_interval: '100ms' } }), launchBrowser()])
    const alice = await t.mintToken({ name: 'alice', mode: 'both' })
    aliceId = alice.id
    await t.admin('PUT', `/api/token/${alice.id}/settings`, { enable_conversation_logging: true })
    const bob = await t.mintToken({ name: 'build-bot', mode: 'api', expires_in: '30d' })
    const old = await t.mintToken({ name: 'old-laptop', mode: 'api' })
    await t.mintToken({ name: 'unused', mode: 'web' })
    await sendFlowTraffic(t, alice.token)
    await sendBackgroundTraffic(t, bob.token, 6)
    await sendBackgroundTraffic(t, old.token, 1)
    await t.admin('POST', '/api/token/revoke', { id: old.id })
    await flushed(t)
    await addHistory(t, [alice.id, bob.id, old.id])
    const found = JSON.parse(await adminText(t, `/api/conversations/search?q=${SEEN.englishWord}`))
    conversationId = found.conversations[0].id
  }, 240_000)
  afterAll(async () => {
    await browser?.close()
    await t?.close()
  })

  let context: BrowserContext
  let page: Page
  let pageErrors: string[] = []
  beforeAll(async () => {
    context = await newAppContext(browser, t.url)
    page = await context.newPage()
    pageErrors = watchPageErrors(page)
  })
  afterAll(() => context?.close())

  /** The page as it is, in the light and then the dark system theme: no serious axe finding, a screenshot each. */
  async function inBothThemes(name: string, where: string): Promise<void> {
    for (const theme of THEMES) {
      await page.emulateMedia({ colorScheme: theme })
      // the app follows a live change of the system setting: the background turns with it
      await expect.poll(() => backgroundLuminance(page)).toSatisfy((l: number) => (theme === 'dark' ? l < 0.2 : l > 0.6))
      await accessible(page, `${where} (${theme})`)
      await screenshot(page, name, theme)
    }
  }

  it('sign-in', async () => {
    await page.goto('/ui/')
    await signInField(page).waitFor()
    await settled(page)
    await inBothThemes('sign-in', 'sign-in')
  })

  it('Dashboard, with its chart’s text alternative', async () => {
    await openSignedIn(page)
    await main(page).getByText('Most recent requests').first().waitFor()
    await inBothThemes('dashboard', 'Dashboard')
    // the 7-day chart has a text alternative: a summary sentence and the numbers as a table
    const chart = main(page).getByRole('figure', { name: 'Requests over the last 7 days' })
    const week = JSON.parse(await adminText(t, '/api/stats/usage?days=7')).totals.request_count
    expect(await chart.innerText()).toContain(`${week.toLocaleString('en-US')} requests in total`)
    await chart.getByText('Show the data as a table').click()
    expect(await chart.getByRole('table').locator('tbody tr').count()).toBe(7)
    for (const theme of THEMES) {
      await page.emulateMedia({ colorScheme: theme })
      await accessible(page, `Dashboard with the chart's table (${theme})`)
    }
  })

  it('Tokens', async () => {
    await goTo(page, 'Tokens')
    await main(page).getByRole('row').filter({ hasText: 'build-bot' }).waitFor()
    await inBothThemes('tokens', 'Tokens')
  })

  it('Create token, with its secret shown once', async () => {
    await main(page).getByRole('button', { name: 'Create token' }).click()
    const form = page.getByRole('dialog')
    await form.getByLabel('Name', { exact: true }).fill('laptop')
    for (const theme of THEMES) {
      await page.emulateMedia({ colorScheme: theme })
      await accessible(page, `Create token form (${theme})`)
    }
    await form.getByRole('button', { name: 'Create token', exact: true }).click()
    await page.getByRole('button', { name: 'I have copied it' }).waitFor()
    await inBothThemes('token-created', 'Create token secret')
    await page.getByRole('button', { name: 'I have copied it' }).click()
  })

  it('a token’s page', async () => {
    await main(page).getByRole('row').filter({ hasText: 'alice' }).getByRole('link', { name: 'alice' }).click()
    await page.waitForURL(new RegExp(aliceId))
    await settled(page)
    await inBothThemes('token', 'token page')
  })

  it('Conversations', async () => {
    await goTo(page, 'Conversations')
    await main(page).getByText('Hamlet').first().waitFor()
    await inBothThemes('conversations', 'Conversations')
  })

  it('a conversation', async () => {
    await page.goto(`/ui/conversations/${conversationId}`)
    await settled(page)
    await main(page).getByText(SEEN.englishPrompt).first().waitFor()
    await inBothThemes('conversation', 'conversation')
  })

  it('Request logs, and a row’s detail panel', async () => {
    await goTo(page, 'Request logs')
    const rows = main(page).getByRole('table').locator('tbody tr')
    await rows.first().waitFor()
    await inBothThemes('request-logs', 'Request logs')
    // a failed request: its panel shows the error
    await rows.filter({ hasText: '400' }).first().click()
    await page.getByText('Request details').first().waitFor()
    await settled(page)
    await inBothThemes('request-detail', 'request detail panel')
    await page.keyboard.press('Escape')
  })

  it('Usage', async () => {
    await goTo(page, 'Usage')
    await main(page).getByText('By model').first().waitFor()
    await inBothThemes('usage', 'Usage')
  })

  it('showed no uncaught error or Content-Security-Policy refusal', () => {
    expect(pageErrors).toEqual([])
  })
})
