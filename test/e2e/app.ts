// How the end-to-end tests work the app: by the labels the issue and contract-web.md fix, as a user does.

import type { Locator, Page } from 'playwright-core'
import Anthropic from '@anthropic-ai/sdk'
import OpenAI from 'openai'
import { ADMIN_KEY, type TestGateway } from '../support/gateway.ts'
import { networkQuiet } from '../support/browser.ts'

/** The navigation, named exactly as the issue names it. */
export type NavName = 'Dashboard' | 'Tokens' | 'Conversations' | 'Request logs' | 'Usage'

export const signInField = (page: Page): Locator => page.getByLabel('Admin key')
export const navLink = (page: Page, name: NavName): Locator => page.getByRole('navigation').getByRole('link', { name, exact: true })

/** Fills the sign-in form (the page must show it). */
export async function signIn(page: Page, key = ADMIN_KEY): Promise<void> {
  await signInField(page).fill(key)
  await page.getByRole('button', { name: 'Sign in', exact: true }).click()
}

/** Opens the app signed in, on `path` (under /ui/). */
export async function openSignedIn(page: Page, path = '/ui/'): Promise<void> {
  await page.goto(path)
  await signInField(page).waitFor()
  await signIn(page)
  await navLink(page, 'Dashboard').waitFor()
  await settled(page)
}

// A loading state: aria-busy, or the app's Loading status (its spinner).
const LOADING = '[aria-busy="true"], [role="status"]:has(.spinner)'

/** Waits until the page stopped fetching and shows no loading state. */
export async function settled(page: Page): Promise<void> {
  await networkQuiet(page)
  await page.waitForFunction((selector) => !(globalThis as any).document.querySelector(selector), LOADING)
}

export async function goTo(page: Page, name: NavName): Promise<void> {
  const link = navLink(page, name)
  const href = (await link.getAttribute('href'))!
  await link.click()
  await page.waitForURL((url) => url.pathname === href)
  await settled(page)
}

/** The open modal: a dialog or an alertdialog. */
export const dialog = (page: Page): Locator => page.locator('[role="dialog"], [role="alertdialog"]').filter({ visible: true })

/** Chooses the option shown as `option` in the <select> labelled `label` (the app's filters and switches). */
export async function chooseFilter(page: Page, label: string, option: string): Promise<void> {
  const control = page.getByLabel(label, { exact: true }).first()
  const options = (await control.locator('option').allTextContents()).map((o) => o.trim())
  if (!options.includes(option)) throw new Error(`no option ${option} in ${label}: ${options.join(' | ')}`)
  await control.selectOption({ label: option })
}

/** The secret-looking tokens (JWTs) in a text. */
export const jwtsIn = (text: string): string[] => text.match(/eyJ[\w-]+\.[\w-]+\.[\w-]+/g) ?? []

export const openaiFor = (t: TestGateway, token: string): OpenAI => new OpenAI({ baseURL: `${t.url}/v1`, apiKey: token, maxRetries: 0 })
export const anthropicFor = (t: TestGateway, token: string): Anthropic => new Anthropic({ baseURL: t.url, apiKey: token, maxRetries: 0 })

/** The admin API's answer with the admin key (the reference the UI is compared with). */
export async function adminText(t: TestGateway, path: string): Promise<string> {
  const res = await fetch(t.url + path, { headers: { 'x-admin-key': ADMIN_KEY } })
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`)
  return res.text()
}
