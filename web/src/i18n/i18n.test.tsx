import { render, screen } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { describe, expect, it } from 'vitest'
import { LanguageSwitch } from '../components/Layout.tsx'
import { en } from './en.ts'
import { I18nProvider, LANGUAGE_STORAGE_KEY, useI18n } from './i18n.tsx'
import { zh } from './zh.ts'

function Nav() {
  const { t } = useI18n()
  return <h1>{t('nav.requests')}</h1>
}

const renderApp = () =>
  render(
    <I18nProvider>
      <Nav />
      <LanguageSwitch />
    </I18nProvider>,
  )

describe('languages', () => {
  it('switches between English and 简体中文 and remembers the choice', async () => {
    const first = renderApp()
    expect(screen.getByRole('heading').textContent).toBe('Request logs')
    await userEvent.selectOptions(screen.getByRole('combobox', { name: 'Language' }), '简体中文')
    expect(screen.getByRole('heading').textContent).toBe('请求日志')
    expect(document.documentElement.lang).toBe('zh-CN')
    expect(localStorage.getItem(LANGUAGE_STORAGE_KEY)).toBe('zh-CN')
    first.unmount()

    renderApp() // a new visit
    expect(screen.getByRole('heading').textContent).toBe('请求日志')
    await userEvent.selectOptions(screen.getByRole('combobox', { name: '语言' }), 'English')
    expect(screen.getByRole('heading').textContent).toBe('Request logs')
  })

  it('has every text in both languages, with the same placeholders', () => {
    for (const key of Object.keys(en) as Array<keyof typeof en>) {
      expect(zh[key], key).toBeTruthy()
      const names = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort()
      expect(names(zh[key]), key).toEqual(names(en[key]))
    }
  })
})
