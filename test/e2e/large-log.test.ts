import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { startTestGateway, type TestGateway } from '../support/gateway.ts'
import { ensureWebBuilt, launchBrowser, newAppContext, noChromium } from '../support/browser.ts'
import { adminText, chooseFilter, goTo, openSignedIn, settled } from './app.ts'

// The request log over a million rows: the app pages, sorts and filters on the server and keeps one page of rows
// in the document, so it stays as quick as with fifty. The rows are made by ClickHouse itself (INSERT … SELECT
// FROM numbers), one every 2.5 s over the last ~29 days, 2 % of them 429s.

const ROWS = 1_000_000

let t: TestGateway
let browser: Browser
let context: BrowserContext
let page: Page

const main = () => page.getByRole('main')
const rows = () => main().getByRole('table').locator('tbody tr')
const shownIds = () => rows().evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-row-id')))
const apiIds = async (query: string) => JSON.parse(await adminText(t, `/api/logs/requests?${query}`)).logs.map((l: any) => l.id)
const poll = <T>(read: () => T | Promise<T>) => expect.poll(read, { timeout: 15_000 })

describe.skipIf(!!noChromium)(`a request log of a million rows${noChromium ? ` (${noChromium})` : ''}`, () => {
  beforeAll(async () => {
    await ensureWebBuilt()
    ;[t, browser] = await Promise.all([startTestGateway(), launchBrowser()])
    const token = await t.mintToken({ name: 'load-test', mode: 'api' })
    await t.gateway.services.warehouse.client.command({
      query: `INSERT INTO request_logs (id, request_at, response_at, duration_ms, token_id, user_name, account_id, mode, endpoint,
                model, response_model, stream, status_code, success, prompt_tokens, completion_tokens, total_tokens)
              SELECT generateUUIDv4(number), now64(3) - toIntervalMillisecond(number * 2500),
                now64(3) - toIntervalMillisecond(number * 2500) + toIntervalMillisecond(100 + number % 5000),
                100 + number % 5000, {token:String}, 'load-test', 'acc_load', 'api', 'messages',
                ['claude-sonnet-4-6', 'claude-opus-4-8', 'claude-haiku-4-5-20251001'][1 + number % 3], '', number % 2 = 0,
                if(number % 50 = 0, 429, 200), number % 50 != 0, 20 + number % 700, 5 + number % 300, 25 + number % 700 + number % 300
              FROM numbers({rows:UInt32})`,
      query_params: { token: token.id, rows: ROWS },
    })
    expect(JSON.parse(await adminText(t, '/api/logs/requests?limit=1')).total).toBe(ROWS)
    context = await newAppContext(browser, t.url)
    page = await context.newPage()
  }, 240_000)
  afterAll(async () => {
    await context?.close()
    await browser?.close()
    await t?.close()
  })

  it('shows the first page, pages forward, jumps to the last page, sorts and filters — one page in the document', async () => {
    await openSignedIn(page, '/ui/requests')
    await poll(shownIds).toEqual(await apiIds('limit=50'))

    await main().getByRole('button', { name: 'Next page' }).click()
    await settled(page)
    expect(new URL(page.url()).searchParams.get('page')).toBe('1')
    await poll(shownIds).toEqual(await apiIds('limit=50&page=1'))

    const last = Math.ceil(ROWS / 50) - 1
    await page.goto(`/ui/requests?page=${last}`)
    await settled(page)
    await poll(shownIds).toEqual(await apiIds(`limit=50&page=${last}`))

    await page.goto('/ui/requests')
    await settled(page)
    const duration = main().getByRole('columnheader', { name: /Duration/ })
    await duration.getByRole('button').click()
    await settled(page)
    const order = (await duration.getAttribute('aria-sort')) === 'ascending' ? 'asc' : 'desc'
    await poll(shownIds).toEqual(await apiIds(`limit=50&sort=duration_ms&order=${order}`))

    await chooseFilter(page, 'Status', 'Failed')
    await settled(page)
    await poll(shownIds).toEqual(await apiIds(`limit=50&success=false&sort=duration_ms&order=${order}`))
    expect(await rows().count()).toBe(50)
  })

  it('opens a row of the million and moves on with j', async () => {
    const ids = await shownIds()
    await rows().first().click()
    const panel = page.getByRole('complementary').filter({ hasText: 'Request details' })
    await poll(() => panel.innerText()).toContain(ids[0]!)
    await page.keyboard.press('j')
    await poll(() => panel.innerText()).toContain(ids[1]!)
    await page.keyboard.press('Escape')
  })

  it('summarizes it on the Dashboard and the Usage page', async () => {
    await goTo(page, 'Dashboard')
    await main().getByText('Requests today').waitFor()
    await goTo(page, 'Usage')
    await main().getByRole('button', { name: '30 days' }).click()
    await settled(page)
    const byModel = main().getByRole('table').filter({ hasText: 'claude-opus-4-8' }).first()
    await byModel.waitFor()
    for (const model of ['claude-sonnet-4-6', 'claude-opus-4-8', 'claude-haiku-4-5-20251001']) expect(await byModel.innerText()).toContain(model)
  })
})
